"""Evaluator: score one code version by playing it on ``n_envs`` real games in parallel sandboxed workers.

H is defined in ``evaluation``.

Policy mode in 2-player games: the harness plays one seat per rollout — seat ``i % 2`` for the i-th
training seed, so both seats are covered — against a seeded random opponent (``rollout.play_rollout``'s
``seat``) that plays only legal moves in every game (``envs.actions.random_legal_action``: the env's
legal-move oracle where it has one, else candidates probed on clones).

Oracle probing (beyond the paper). A rollout only tests the actions the harness played, so a checker that
rejects too much, or a legal-move list that is too short, goes unseen. For up to ``probe_states`` visited
states per rollout (evenly spaced), the game is replayed to that state from its seed and up to
``probe_actions`` actions the harness did *not* play there are tried on a clone of the env. Candidates come
from everything the harness played or listed in any rollout of this evaluation and their one-character
variants (``_candidate_pool``, built on ``rollout.one_char_variants``), sampled with a seeded RNG. A rollout
that explored (``LearnConfig.explore``) is replayed along the moves it actually played.
Verifier: a mismatch is ``is_legal_action`` disagreeing with the env (either way). Filter: a mismatch is an
env-legal action missing from ``legal_actions``. Policy mode does not use a checker, so nothing is probed.

Moves, not spellings (``envs.actions.successor_key``): a list is complete when it reaches every distinct
successor position, and a checker that rejects an odd spelling of a move it accepts is not wrong about the
rules. A probed action the env accepts but the harness left out or rejected is a mismatch only when no
listed move (filter) — or no accepted spelling: the move played there, leading zeros dropped, spacing or
case changed (verifier) — leads to the same position. Otherwise it is recorded in ``Evaluation.spellings``
(``[col 03]`` beside a listed ``[col 3]`` on ConnectFour): information, not counted in H.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..envs import make
from ..envs.actions import spelling_variants, successor_key
from ..envs.base import Env
from ..rollout import Rollout, StepRecord, one_char_variants, play_rollout
from ..sandbox import WorkerPool, check_source
from ..sandbox.failures import HarnessFailure
from ..watch import EvalWatch
from .config import LearnConfig
from .evaluation import Evaluation, ProbeMismatch

EnvFactory = Callable[[str], Env]
_UNSET = object()


class Evaluator:
    """Plays code versions of one game's harness on a pool of sandboxed workers.

    It owns its rollout threads for its whole life (close it, or use it as a context manager): the sandbox
    ties each worker process to the thread that spawned it (bwrap ``--die-with-parent`` is per thread), so
    threads that came and went with every evaluation would take their workers down with them.
    """

    def __init__(
        self, game_id: str, config: LearnConfig, pool: WorkerPool, env_factory: EnvFactory = make
    ) -> None:
        self.game_id = game_id
        self.config = config
        self.pool = pool
        self.make_env = env_factory
        self._threads = ThreadPoolExecutor(max_workers=config.parallelism, thread_name_prefix="rollout")
        self._opponent: object = _UNSET

    def example_observation(self) -> str:
        """What ``obs`` holds at the start of the first training game: the prompt shows it so the model
        parses the real text format from the first version on, instead of guessing it."""
        return self.make_env(self.game_id).reset(self.config.train_seeds[0]).observation

    def close(self) -> None:
        self._threads.shutdown(wait=True)

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def evaluate(
        self,
        source: str,
        deadline: float | None = None,
        on_progress: Callable[[EvalWatch], None] | None = None,
    ) -> Evaluation:
        """Rollouts (and probes) of ``source``; at ``deadline`` (``time.monotonic()``: the run's wall budget)
        they stop and the evaluation is marked ``out_of_time``. ``config.eval_seconds`` is this evaluation's
        own budget: rollouts still running when it passes are cut (``Evaluation.time_cut``).
        ``on_progress`` gets the live counters (games finished, steps, elapsed, slowest call) as they move."""
        cfg = self.config
        ev = Evaluation(mode=cfg.mode, static_issues=check_source(source, cfg.mode))  # type: ignore[arg-type]
        ev.eval_seconds = cfg.eval_seconds
        if ev.static_issues:
            return ev
        ev.opponent = self.opponent
        with self.pool.session(source, cfg.mode) as session:  # a load failure costs one load, not n_envs
            if session.load_failure is not None:
                ev.load_failure = session.load_failure
                return ev
        watch = EvalWatch(len(cfg.train_seeds), cfg.eval_seconds, on_progress)
        seats = self._seats()
        # Every rollout is waited for (list) before anything returns: none may outlive this evaluation.
        for item in list(
            self._threads.map(
                lambda seed, seat: self._rollout(source, seed, seat, deadline, watch), cfg.train_seeds, seats
            )
        ):
            if isinstance(item, HarnessFailure):  # a load that failed only now (e.g. nondeterministic code)
                ev.load_failure = ev.load_failure or item
            else:
                ev.rollouts.append(item)
        ev.slowest_call = watch.slowest
        if ev.load_failure is not None:
            return ev
        late = deadline is not None and time.monotonic() >= deadline
        ev.out_of_time = late
        if ev.out_of_time:
            return ev
        if cfg.probe and cfg.mode != "policy" and cfg.probe_states and cfg.probe_actions:
            pool_actions = _candidate_pool(ev.rollouts)
            for count, found in self._threads.map(
                lambda r: self._probe(source, r, pool_actions), ev.rollouts
            ):
                spellings = [m for m in found if m.same_as is not None]
                ev.probes += count - len(spellings)
                ev.mismatches.extend(m for m in found if m.same_as is None)
                ev.spellings.extend(spellings)
        return ev

    @property
    def opponent(self) -> str | None:
        """Who plays the other seat: ``"random"`` in 2-player policy mode (a random legal player, see the
        module docstring); None in 1-player games and the other modes (the harness plays every seat, as in
        the paper)."""
        if self._opponent is _UNSET:
            opponent = None
            if self.config.mode == "policy" and self.make_env(self.game_id).num_players == 2:
                opponent = "random"
            self._opponent = opponent
        return self._opponent  # type: ignore[return-value]

    def _seats(self) -> list[int | None]:
        """The harness's seat in each training rollout: alternating vs a random opponent, else None."""
        seeds = self.config.train_seeds
        return [i % 2 for i in range(len(seeds))] if self.opponent == "random" else [None] * len(seeds)

    def _rollout(
        self,
        source: str,
        seed: int,
        seat: int | None = None,
        deadline: float | None = None,
        watch: EvalWatch | None = None,
    ) -> Rollout | HarnessFailure:
        with self.pool.session(source, self.config.mode) as session:
            if session.load_failure is not None:
                return session.load_failure
            cfg = self.config
            env = self.make_env(self.game_id)
            if watch is not None:
                session.on_call = watch.call
                watch.begin()  # the budget counts from the first game, not from starting sandboxes
            rollout = play_rollout(
                env,
                session,
                cfg.mode,
                seed,
                cfg.max_steps,
                explore=cfg.explore,
                seat=seat,
                deadline=deadline,
                watch=watch,
            )
            if watch is not None:
                watch.game_over(cut=rollout.out_of_time)
            return rollout

    def _probe(
        self, source: str, rollout: Rollout, pool_actions: list[str]
    ) -> tuple[int, list[ProbeMismatch]]:
        """Replay ``rollout`` from its seed; at the chosen states try actions it did not play."""
        cfg = self.config
        steps = rollout.steps
        if not steps:
            return 0, []
        every = max(1, len(steps) // cfg.probe_states)
        chosen = set(range(0, len(steps), every)[: cfg.probe_states])
        env = self.make_env(self.game_id)
        turn = env.reset(rollout.seed)
        count, found = 0, []
        with self.pool.session(source, cfg.mode) as session:
            for i, step in enumerate(steps):
                if turn.observation != step.observation:
                    break  # the replay diverged (a non-deterministic env): stop probing this rollout
                if i in chosen:
                    skip = {step.action, step.played, *step.listed}
                    options = [a for a in pool_actions if a not in skip]
                    rng = random.Random(f"probe:{rollout.seed}:{i}")
                    for action in rng.sample(options, min(cfg.probe_actions, len(options))):
                        count += 1
                        mismatch = self._probe_one(session, env, rollout.seed, i, step, action)
                        if mismatch is not None:
                            found.append(mismatch)
                if not step.ok or step.move is None:
                    break
                result = env.step(step.move)
                if result.done or result.next is None:
                    break
                turn = result.next
        return count, found

    def _probe_one(
        self, session: Any, env: Env, seed: int, index: int, step: StepRecord, action: str
    ) -> ProbeMismatch | None:
        """One probe, judged by the position it leads to: a disagreement that is only about the spelling of
        a move the harness lists or accepts comes back with ``same_as`` set (not a failure)."""
        key = successor_key(env, action)
        legal = key is not None
        reason = None if legal else env.clone().step(action).reason
        if self.config.mode == "filter":
            # ``action`` is not in the list by construction; missing it is wrong only if the env accepts it
            # and no listed move leads to the same position.
            if not legal:
                return None
            same = next((m for m in step.listed if successor_key(env, m) == key), None)
            return ProbeMismatch(seed, index, step.player, step.observation, action, None, True, same_as=same)
        said = session.is_legal_action(step.observation, action)
        if isinstance(said, HarnessFailure):
            return ProbeMismatch(
                seed, index, step.player, step.observation, action, None, legal, reason, said
            )
        if said == legal:
            return None
        same = None
        if legal:  # rejected a move the game accepts: does it accept another spelling of the same move?
            spellings = [o for o in (step.move, *spelling_variants(action)) if o and o != action]
            same = next(
                (
                    other
                    for other in spellings
                    if successor_key(env, other) == key
                    and session.is_legal_action(step.observation, other) is True
                ),
                None,
            )
        return ProbeMismatch(
            seed, index, step.player, step.observation, action, said, legal, reason, same_as=same
        )


def _candidate_pool(rollouts: list[Rollout]) -> list[str]:
    """Actions to probe, in a stable order: every action the harness played, proposed or listed in this
    evaluation, plus their one-character variants (``one_char_variants``). The variants reach moves the
    harness never plays: a checker that rejects them wrongly is exactly what rollouts cannot see."""
    seen: set[str] = set()
    for r in rollouts:
        for s in r.steps:
            seen.update(a for a in (s.action, s.played) if a is not None)
            seen.update(s.listed)
    return sorted(one_char_variants(seen))


__all__ = ["Evaluator"]
