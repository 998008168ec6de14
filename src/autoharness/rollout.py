"""Play one harness against one real game (every seat, or one vs random); record each step for the critic.

Data flows one way: env → **rollout** → critic → refiner → tree. A rollout stops at the first illegal move
or harness failure (the paper's protocol): training needs that first mistake, with everything around it.

Per-step semantics by mode (the harness contract is in ``autoharness.sandbox.contract``):

* verifier: ``a = propose_action(obs)``; ``ok = is_legal_action(obs, a)``. If ``ok`` the action is played
  and the env decides (env rejects → ``StepVerdict.CHECKER_WRONG``: the checker let an illegal move through).
  If not ``ok`` the env is asked on a clone: illegal there too → ``PROPOSER_WRONG`` (checker right, proposer
  wrong); legal there → ``CHECKER_TOO_STRICT`` (false negative). Either way the rollout stops.

  Exploration (``explore`` = p, beyond the paper; 0 = the paper's behaviour). A deterministic proposer on a
  deterministic game would play the same game in every rollout, so a harness would be validated on one line
  of play. With probability p per step (the rollout's own seeded RNG: runs stay replayable), once the
  proposal has been judged as above — but on a clone, since it is not the move played — the rollout plays a
  *different* move the env accepts (another successor position, ``envs.actions.successor_key``, not a
  respelling of the proposal): candidates (``one_char_variants`` of the proposal and of a few earlier
  actions of this rollout, plus bracketed tokens of the observation) are tried in a seeded random order on
  clones, at most ``EXPLORE_TRIES``. That move is judged by ``is_legal_action`` too; a checker that rejects
  its odd spelling (``[col 04]``) but accepts a plain one of the same move (``spelling_variants``: ``[col
  4]``) is judged on the plain one, which is then played. It says False → ``CHECKER_TOO_STRICT``, the
  record's ``explored`` set; the rollout stops like on any failure. When it
  passes, the step is LEGAL with ``action`` the proposal and ``played`` the move actually played (the next
  observation follows ``played``). No alternative found → the proposal is played as usual. Exploration only
  changes which states are visited: every judged step still counts once in the legal-step rate.
* filter: ``moves = legal_actions(obs)``; every listed move is probed on a clone (``LIST_WRONG`` if one is
  illegal, ``LIST_EMPTY`` if empty while the game goes on); the played move is drawn from the list with the
  rollout's own seeded RNG (a stand-in for the LLM's pick). The sandbox refuses a list over
  ``MAX_LISTED_ACTIONS`` entries or with an entry over ``MAX_ACTION_CHARS`` (``oversized``), so probing
  costs at most that many clone steps, each on a short action, per state.
* policy: ``a = propose_action(obs)`` is played; env rejects → ``PROPOSER_WRONG``.

  Against a random opponent (``seat`` given; policy mode in 2-player games): the harness plays only seat
  ``seat``; the other seat's turns are played by ``agents.RandomAgent`` — a random legal move
  (``envs.actions.random_legal_action``), RNG seeded from the rollout seed and seat, so a rollout replays
  exactly. Opponent moves are not steps: no record, not in the legal-step rate,
  never shown to the critic as the harness's mistakes (the harness sees them in its next observation, as
  in any match). ``max_steps`` caps plies of both seats. An opponent move the env rejects (only in a dead
  position, where no move is legal) ends the game as ``RolloutEnd.OPPONENT_FORFEIT``: the env's outcome is
  recorded but it is no result for the harness (a win by forfeit is not a win: policy H leaves it out).

Dead positions. Some games have no rule for a player left without any legal move (TextArena's Breakthrough:
every piece blocked) and keep asking for one. When a step fails (only then: rollouts stay fast), the game is
asked whether the player to move had any legal move at all (``envs.actions.is_dead``: the move-list oracle
where there is one, else the game's action space tried on clones, on a copy rebuilt by replaying the
rollout's moves from its seed: ``position_is_dead``). If none exists the rollout ends as
``RolloutEnd.DEAD_POSITION``: the failed step is not one of ``steps`` (not counted against H, never shown to
the model as its mistake) but kept in ``Rollout.dead_step``; an opponent move rejected in a dead position
ends the same way, not as a forfeit.

How a rollout ended is ``Rollout.end`` (``RolloutEnd``), with the game's own last words in ``end_message``
(its end-of-game reason, or its text for the rejected move). A rollout cut at ``max_steps`` (``STEP_CAP``)
has not ended by the game's rules: its rewards are what the game itself gives for the position reached
(``envs.base.cut_rewards_of``: a 1-player game's own progress, a 2-player game's turn-limit draw), marked cut.

Any ``HarnessFailure`` (exception, timeout, bad return, ...) → ``CODE_FAILURE`` with the failure attached.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from .envs.actions import spelling_variants, successor_key
from .sandbox.failures import HarnessFailure

if TYPE_CHECKING:
    from .envs.base import Env, StepResult, Turn
    from .sandbox import HarnessSession, Mode
    from .watch import EvalWatch


class RolloutEnd(StrEnum):
    """Why a rollout stopped."""

    GAME_OVER = "game over"  # the game ended by its rules
    FAILURE = "failure"  # the harness's first non-LEGAL step (``Rollout.first_failure``)
    STEP_CAP = "cut at the step cap"  # stopped by ``max_steps``; scored by the game's value of the position
    OPPONENT_FORFEIT = "opponent forfeit"  # the random opponent's move was rejected: no result
    GAME_CRASH = "game crash"  # the game broke down after a legal move: no result
    DEAD_POSITION = "no legal move exists (game defect)"  # the game accepts no move here


NO_RESULT = frozenset({RolloutEnd.OPPONENT_FORFEIT, RolloutEnd.GAME_CRASH, RolloutEnd.DEAD_POSITION})
"""Endings that say nothing about the harness's play: left out of policy mode's mean reward."""


class StepVerdict(StrEnum):
    LEGAL = "legal"  # the move was legal (and, in verifier mode, the checker agreed)
    CHECKER_WRONG = "checker_wrong"  # is_legal_action said True, env said illegal → refine both functions
    PROPOSER_WRONG = "proposer_wrong"  # proposed move illegal and checker (if any) said so → refine proposer
    CHECKER_TOO_STRICT = "checker_too_strict"  # checker said False for a move the env accepts
    LIST_WRONG = "list_wrong"  # filter mode: legal_actions listed an illegal move
    LIST_EMPTY = "list_empty"  # filter mode: legal_actions returned nothing while the game goes on
    CODE_FAILURE = "code_failure"  # the harness crashed / hung / returned garbage


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One ply: what the harness saw, did and was told."""

    index: int
    player: int
    observation: str
    action: str | None
    verdict: StepVerdict
    checker_said: bool | None = None  # is_legal_action's answer (None when not asked)
    env_reason: str | None = None  # the environment's own text when it rejected a move
    failure: HarnessFailure | None = None
    listed: tuple[str, ...] = ()  # filter mode: what legal_actions returned
    wrong_listed: tuple[str, ...] = ()  # filter mode: listed moves the env rejects
    played: str | None = None  # verifier exploration: the move actually played instead of ``action``
    explored: bool = False  # ``action`` was not proposed by the harness but tried by exploration

    @property
    def move(self) -> str | None:
        """The move the real game received at this step (``played`` when exploration replaced ``action``)."""
        return self.played if self.played is not None else self.action

    @property
    def ok(self) -> bool:
        return self.verdict is StepVerdict.LEGAL


@dataclass(slots=True)
class Rollout:
    """A whole episode. ``legal_steps / steps`` is this rollout's legal-action rate."""

    game: str
    seed: int
    mode: str
    steps: list[StepRecord] = field(default_factory=list)
    done: bool = False  # the game ended normally (not cut by a failure or the step cap)
    rewards: dict[int, float] | None = None
    normalized_rewards: dict[int, float] | None = None
    seat: int | None = None  # the harness's only seat against a random opponent; None: it plays every seat
    end: RolloutEnd = RolloutEnd.STEP_CAP
    out_of_time: bool = (
        False  # stopped at a wall-clock deadline (a run's or an evaluation's budget), not by the game
    )
    end_message: str | None = None  # the game's own last words: its end-of-game reason, or why it rejected
    dead_step: StepRecord | None = None  # the step that found no legal move to exist (not in ``steps``)

    @property
    def cut(self) -> bool:
        """Stopped by the step cap, not by the game: its rewards are the game's value of the position."""
        return self.end is RolloutEnd.STEP_CAP

    @property
    def legal_steps(self) -> int:
        return sum(1 for s in self.steps if s.ok)

    @property
    def first_failure(self) -> StepRecord | None:
        return next((s for s in self.steps if not s.ok), None)


def _finish(rollout: Rollout, env: Env, result: StepResult, end: RolloutEnd) -> Rollout:
    """Record how the game ended: rewards whenever the env gave them, ``done`` only for a normal end (not
    after a failure or a forfeit, nor when the game itself crashed: ``info["crash"]``)."""
    crashed = end is RolloutEnd.GAME_OVER and bool(result.info.get("crash"))
    rollout.end = RolloutEnd.GAME_CRASH if crashed else end
    rollout.done = rollout.end is RolloutEnd.GAME_OVER
    message = result.info.get("end") if result.legal else result.reason
    rollout.end_message = str(message) if message else None
    _set_rewards(rollout, env, result.rewards)
    return rollout


def _set_rewards(rollout: Rollout, env: Env, rewards: dict[int, float] | None) -> None:
    if rewards is not None:
        rollout.rewards = dict(rewards)
        rollout.normalized_rewards = {p: env.normalized_reward(rewards, p) for p in rewards}


def position_is_dead(env: Env, seed: int, moves: list[str], observation: str) -> bool:
    """Whether the player to move after ``moves`` (from ``seed``), who sees ``observation``, has no legal
    move at all. Asked on a copy of ``env`` rebuilt by replay, so the game played is never touched. No claim
    (False) when the game's opening already shows no legal move: then the candidates cannot reach this
    game's moves, and "dead" would excuse real mistakes. The kinds of candidate that reached the opening's
    moves are tried first at the position (its own ``SpaceRecord``: the answer depends on the game alone)."""
    from .envs.actions import SpaceRecord, is_dead

    game = env.clone()
    opening = game.reset(seed)
    record = SpaceRecord()
    if is_dead(game, opening.observation, record):
        return False
    for move in moves:
        result = game.step(move)
        if not result.legal or result.done or result.next is None:
            return False  # the replay diverged: no claim without the position itself
    return is_dead(game, observation, record)


def _end_dead(rollout: Rollout, record: StepRecord | None) -> Rollout:
    rollout.end = RolloutEnd.DEAD_POSITION
    rollout.end_message = RolloutEnd.DEAD_POSITION.value
    rollout.dead_step = record
    return rollout


def _cut(rollout: Rollout, env: Env) -> Rollout:
    """The step cap stopped the game: score it by the game's own value of the position reached."""
    from .envs.base import cut_rewards_of

    rollout.end = RolloutEnd.STEP_CAP
    _set_rewards(rollout, env, cut_rewards_of(env))
    return rollout


EXPLORE_TRIES = 8
"""Alternative moves tried on clones (each ~0.2–0.8 ms) per explored step before giving up."""

EXPLORE_BASES = 3
"""Earlier actions of the rollout (besides the proposal) whose one-character variants are candidates."""

_OBS_TOKEN = re.compile(r"\[[^\[\]\n]{1,12}\]")
_SPEAKER = re.compile(r"\[(?:GAME|Player \d+)\]")


def one_char_variants(actions: Iterable[str], letters: Iterable[str] | None = None) -> set[str]:
    """``actions`` and their one-character variants: each digit replaced by every other digit, each lowercase
    letter by every one of ``letters`` (default: the lowercase letters seen in ``actions``). They reach moves
    the harness never plays (``[4]`` → ``[5]``, ``[e2e4]`` → ``[e2e3]``): oracle probing and exploration
    draw their candidates from here."""
    bases = set(actions)
    pool = letters if letters is not None else (c for a in bases for c in a)
    subs_letters = sorted({c for c in pool if c.islower()})
    variants = set(bases)
    for action in bases:
        for i, ch in enumerate(action):
            subs = "0123456789" if ch.isdigit() else subs_letters if ch.islower() else ""
            variants.update(action[:i] + c + action[i + 1 :] for c in subs if c != ch)
    return variants


class _Explorer:
    """Per-rollout exploration state: probability, the seeded RNG, what this rollout has played so far."""

    def __init__(self, p: float, rng: random.Random) -> None:
        self.p = p
        self.rng = rng
        self.history: dict[str, None] = {}  # distinct moves played, in order
        self.letters: set[str] = set()

    def played(self, move: str | None) -> None:
        if move is not None and move not in self.history:
            self.history[move] = None
            self.letters.update(c for c in move if c.islower())

    def wants(self) -> bool:
        return self.p > 0 and self.rng.random() < self.p

    def alternative(self, env: Env, obs: str, proposal: str) -> str | None:
        """A move other than ``proposal`` (another successor position, not another spelling of it) that a
        clone of ``env`` accepts, or None after ``EXPLORE_TRIES``."""
        earlier = list(self.history)
        bases = [proposal, *self.rng.sample(earlier, min(EXPLORE_BASES, len(earlier)))]
        letters = self.letters | {c for c in proposal if c.islower()}
        tokens = {t for t in _OBS_TOKEN.findall(obs[-2000:]) if any(c.isdigit() for c in t)}
        candidates = sorted(
            (one_char_variants(bases, letters) | tokens)
            - {proposal}
            - {t for t in tokens if _SPEAKER.fullmatch(t)}
        )
        played = successor_key(env, proposal)
        for action in self.rng.sample(candidates, min(EXPLORE_TRIES, len(candidates))):
            key = successor_key(env, action)
            if key is not None and key != played:  # a different move, not a respelling of the proposal
                return action
        return None


def _accepted_spelling(
    env: Env, session: HarnessSession, obs: str, action: str
) -> tuple[str, bool | HarnessFailure]:
    """(a spelling of the same move as ``action`` that the checker accepts, True), else (``action``,
    False): exploration judges the checker on moves, not on the spellings its candidates happen to have."""
    key = successor_key(env, action)
    for other in spelling_variants(action):
        if successor_key(env, other) == key:
            said = session.is_legal_action(obs, other)
            if said is True:
                return other, True
    return action, False


def _step(
    env: Env,
    session: HarnessSession,
    mode: Mode,
    rng: random.Random,
    index: int,
    turn: Turn,
    explorer: _Explorer | None = None,
) -> tuple[StepRecord, StepResult | None]:
    """One ply in ``mode``: its record, and the real env's result when the env was stepped."""
    obs = turn.observation

    def rec(verdict: StepVerdict, action: str | None, **extra: Any) -> StepRecord:
        return StepRecord(index, turn.player, obs, action, verdict, **extra)

    if mode == "filter":
        listed = session.legal_actions(obs)
        if isinstance(listed, HarnessFailure):
            return rec(StepVerdict.CODE_FAILURE, None, failure=listed), None
        moves = tuple(listed)
        if not moves:
            return rec(StepVerdict.LIST_EMPTY, None), None
        wrong = tuple(m for m in dict.fromkeys(moves) if not env.clone().step(m).legal)
        if wrong:
            return rec(StepVerdict.LIST_WRONG, None, listed=moves, wrong_listed=wrong), None
        action = rng.choice(moves)
        result = env.step(action)
        if not result.legal:  # the env disagreed with its own clone: still the list's fault
            wrong = (action,)
            return rec(
                StepVerdict.LIST_WRONG, action, listed=moves, wrong_listed=wrong, env_reason=result.reason
            ), result
        return rec(StepVerdict.LEGAL, action, listed=moves), result
    if mode == "verifier":
        proposal = session.verify(obs)
        action = proposal.action
        if proposal.failure is not None:
            return rec(StepVerdict.CODE_FAILURE, action, failure=proposal.failure), None
        assert action is not None
        if not proposal.checker_said:
            probe = env.clone().step(action)
            verdict = StepVerdict.CHECKER_TOO_STRICT if probe.legal else StepVerdict.PROPOSER_WRONG
            return rec(verdict, action, checker_said=False, env_reason=probe.reason), None
        if explorer is not None and explorer.wants() and env.clone().step(action).legal:
            # The proposal is judged (legal, and the checker agreed) without being played.
            other = explorer.alternative(env, obs, action)
            if other is not None:
                said = session.is_legal_action(obs, other)
                if said is False:  # an odd spelling ([col 04]) of a move the checker accepts spelled plainly?
                    other, said = _accepted_spelling(env, session, obs, other)
                if isinstance(said, HarnessFailure):
                    return rec(StepVerdict.CODE_FAILURE, other, failure=said, explored=True), None
                if not said:
                    verdict = StepVerdict.CHECKER_TOO_STRICT
                    return rec(verdict, other, checker_said=False, explored=True), None
                result = env.step(other)
                if not result.legal:  # the env disagreed with its own clone
                    verdict = StepVerdict.CHECKER_WRONG
                    return rec(
                        verdict, other, checker_said=True, env_reason=result.reason, explored=True
                    ), result
                return rec(StepVerdict.LEGAL, action, checker_said=True, played=other), result
        result = env.step(action)
        if not result.legal:
            return rec(StepVerdict.CHECKER_WRONG, action, checker_said=True, env_reason=result.reason), result
        return rec(StepVerdict.LEGAL, action, checker_said=True), result
    proposed = session.propose_action(obs)
    if isinstance(proposed, HarnessFailure):
        return rec(StepVerdict.CODE_FAILURE, None, failure=proposed), None
    result = env.step(proposed)
    if not result.legal:
        return rec(StepVerdict.PROPOSER_WRONG, proposed, env_reason=result.reason), result
    return rec(StepVerdict.LEGAL, proposed), result


def play_rollout(
    env: Env,
    session: HarnessSession,
    mode: Mode,
    seed: int,
    max_steps: int = 1000,
    explore: float = 0.0,
    seat: int | None = None,
    deadline: float | None = None,
    watch: EvalWatch | None = None,
) -> Rollout:
    """Play one episode with the harness in every seat (or only ``seat``), stopping at the first
    non-LEGAL step.

    Implements the per-mode semantics in this module's docstring. Probing (verifier: a rejected proposal;
    filter: every listed move) happens on ``env.clone()``, so the played game is never touched by it.
    ``explore`` is verifier mode's exploration probability (ignored in the other modes; 0 = off).
    ``seat`` (policy mode, 2-player games only): the harness plays that seat, a seeded random opponent
    the other. Stopping at ``max_steps`` leaves ``done`` False; passing ``deadline`` (``time.monotonic()``)
    ends it there too, with ``out_of_time`` set, and so does ``watch``'s time budget (``EvalWatch``, which
    also counts the steps for a live display).
    """
    if not 0.0 <= explore <= 1.0:
        raise ValueError(f"explore must be in [0, 1], not {explore!r}")
    if seat is not None and (mode != "policy" or env.num_players != 2 or seat not in (0, 1)):
        raise ValueError(
            f"seat={seat!r} needs policy mode in a 2-player game (got {mode}, {env.num_players}P)"
        )
    rollout = Rollout(game=env.id, seed=seed, mode=mode, seat=seat)
    # Filter mode's pick, verifier mode's exploration; TextArena reseeds the global RNG, so never use that.
    rng = random.Random(seed)
    explorer = _Explorer(explore, rng) if mode == "verifier" and explore > 0 else None
    turn = env.reset(seed)
    opponent = None
    if seat is not None:
        from .agents import RandomAgent  # agents → envs, llm, sandbox: imported here, not at module load

        opponent = RandomAgent()
        opponent.begin_match(env, 1 - seat, seed)
    moves: list[str] = []  # every move the real game received, both seats: a dead position is rebuilt from it
    for index in range(max_steps):
        if (deadline is not None and time.monotonic() >= deadline) or (watch is not None and watch.expired()):
            rollout.out_of_time = True
            return rollout
        if opponent is not None and turn.player != seat:
            move = opponent.act(turn.observation, turn.player)
            result = env.step(move)
            if result.done:
                if not result.legal and position_is_dead(env, seed, moves, turn.observation):
                    return _end_dead(rollout, None)
                end = RolloutEnd.GAME_OVER if result.legal else RolloutEnd.OPPONENT_FORFEIT
                return _finish(rollout, env, result, end)
            moves.append(move)
            assert result.next is not None
            turn = result.next
            continue
        record, result = _step(env, session, mode, rng, index, turn, explorer)
        if not record.ok and position_is_dead(env, seed, moves, turn.observation):
            return _end_dead(rollout, record)
        rollout.steps.append(record)
        if watch is not None:  # live progress of the evaluation (``autoharness.watch``)
            watch.step()
        if explorer is not None and record.ok:
            explorer.played(record.move)
        if not record.ok:
            rollout.end = RolloutEnd.FAILURE
            if result is None or not result.done:
                rollout.end_message = record.env_reason
                return rollout
            return _finish(rollout, env, result, RolloutEnd.FAILURE)
        assert result is not None and record.move is not None
        moves.append(record.move)
        if result.done:
            return _finish(rollout, env, result, RolloutEnd.GAME_OVER)
        assert result.next is not None
        turn = result.next
    return _cut(rollout, env)


def summarize(rollouts: list[Rollout]) -> dict[str, object]:
    """Totals over several rollouts (the ``rollout`` command's JSON): legal-action rate, each stop's cause."""
    steps = sum(len(r.steps) for r in rollouts)
    legal = sum(r.legal_steps for r in rollouts)
    episodes, failures = [], []
    for r in rollouts:
        stop = r.first_failure
        ended = str(stop.verdict) if stop else str(r.end)
        episodes.append(
            {"seed": r.seed, "steps": len(r.steps), "legal_steps": r.legal_steps, "ended": ended}
            | {"end_message": r.end_message}
            | ({"seat": r.seat} if r.seat is not None else {})
            | {"rewards": r.rewards, "normalized_rewards": r.normalized_rewards}
        )
        if stop is not None:
            f = stop.failure
            failures.append(
                {"seed": r.seed, "step": stop.index, "player": stop.player, "verdict": str(stop.verdict)}
                | {
                    "action": stop.action,
                    "env_reason": stop.env_reason,
                    "wrong_listed": list(stop.wrong_listed),
                }
                | {"type": str(f.kind) if f else str(stop.verdict), "message": f.describe() if f else None}
                | {"line": f.line if f else None, "traceback": f.traceback if f else None}
            )
    return {
        "game": rollouts[0].game if rollouts else None,
        "mode": rollouts[0].mode if rollouts else None,
        "legal_rate": legal / steps if steps else None,
        "dead_positions": sum(r.end is RolloutEnd.DEAD_POSITION for r in rollouts),
        "steps": steps,
        "legal_steps": legal,
        "episodes": episodes,
        "failures": failures,
    }
