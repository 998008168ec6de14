"""Certify a harness on held-out positions: compare its verdicts with the game's own, action by action.

"Legal rate 1.0 on ten training rollouts" says little about a checker: a harness that wrongly accepts an
occupied square in one position out of fifty scores 1.0 there too. ``verify_harness`` plays games on
evaluation seeds (never training seeds: they start at ``EVAL_SEED_START + VERIFY_SEED_OFFSET``) and, at
sampled positions, asks the harness and the game the same questions:

* ``is_legal_action`` on every legal action (the move list where the game has one, probing elsewhere) and on
  plausible illegal candidates — moves legal earlier in the game (an occupied square), one-character
  variants of legal moves (other squares), malformed variants, the harness's own proposal. Illegal judged
  legal is a **false accept** (the dangerous kind), legal judged illegal a **false reject**.
* ``legal_actions`` (filter mode): legal moves missing from the list, listed moves the game rejects.
* ``propose_action``: proposals the game rejects (a disagreement in policy mode, where the proposal is the
  move played; in the other modes the checker judges it, and the checker's verdict is what is counted).

Each candidate's truth comes from the game itself: a listed move is legal, anything else is played on a clone.
Malformed variants the game nevertheless accepts (an alias of a legal move) are dropped. A position with
no legal move (dead) is counted apart, never as a disagreement; the game stops there. A harness call that
fails (exception, timeout, bad return) counts as a disagreement of its own (``harness_failures``).

Play is diverse, chosen per game by ``STYLES``: uniform random legal moves, the harness's own proposals in
every seat, ``k`` random moves then the harness, and (2-player games) the harness in one seat against random
play in the other — so both seats' positions, openings and odd middle games are seen. A harness proposal the
game rejects is replaced by a random legal move, so play goes on.

Cost: every check of one position is one sandbox round trip (``HarnessSession.batch``); games run in
``workers`` processes (each with its own sandbox worker). Games are numbered and merged in order, so the
result depends on ``seed`` and ``positions``, never on ``workers``.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, SandboxError
from .learn.config import EVAL_SEED_START
from .rollout import one_char_variants
from .sandbox.failures import FailureKind, HarnessFailure

if TYPE_CHECKING:
    from .envs.actions import SpaceRecord
    from .envs.base import Env, Turn
    from .sandbox import HarnessSession, SandboxLimits, WorkerPool

VERIFY_SEED_OFFSET = 500_000
"""Game ``g`` of a verification with seed ``s`` uses env seed ``EVAL_SEED_START + VERIFY_SEED_OFFSET +
s * SEED_STRIDE + g``: evaluation seeds, away from the ones ``autoharness eval`` plays first."""
SEED_STRIDE = 100_000

DEFAULT_POSITIONS = 2000
TIME_CUT = "time budget spent"
"""How a verification stopped by ``max_seconds`` begins its ``stopped``: its position count depends on the
machine's speed (``verify --max-seconds``, and figures recorded while ``learn`` and ``suite`` had a
budget)."""
CHECK_PROBABILITIES = (0.15, 0.5, 1.0)
"""Chance that a ply's position is checked (the others are only played through), drawn per game: some games
are checked densely from the first move, others sparsely deep into the middle and end game."""
POSITIONS_PER_GAME = 24
"""At most this many checked positions per game: long games (Chess) still give many different games."""
MAX_PLIES = 400
ILLEGAL_PER_POSITION = {"elsewhere": 5, "variant": 5, "malformed": 2}
"""Illegal candidates per position, by origin (each costs one game step on a clone)."""
MAX_COUNTEREXAMPLES = 10
MAX_TIMEOUTS = 3
"""A harness that hangs at this many positions is not verified further (each costs seconds). With the
sandbox's per-call time limit this bounds what a hanging harness costs by a count, not by a clock."""
GIVE_UP_GAMES = 5
"""Games played without one checkable position before verification gives up (says so, checks nothing)."""
STYLES = ("random", "harness", "mixed", "seat0", "seat1")
MAX_GAMES_FACTOR = 50
"""Stop after ``positions * MAX_GAMES_FACTOR / POSITIONS_PER_GAME + 100`` games (games that end at once)."""
STALE_GAMES = 50
"""Stop after this many games in a row that showed no position not seen before: some games have only a few
distinct observations (Bandit-v0 shows only the last press: about 21), and playing on to the games cap
finds none (it cost Bandit-v0 hundreds of games, 10 minutes). A count of games: the same on any machine."""

KINDS = (
    "false_accept",
    "false_reject",
    "missing_legal",
    "listed_illegal",
    "illegal_proposal",
    "harness_failure",
)


@dataclass(slots=True)
class PositionResult:
    """What one checked position found (merged by the parent, in game order)."""

    digest: str  # of the observation: the same position seen twice is counted once
    dead: bool = False
    unknown: bool = False  # no move list and probing found no legal move: nothing could be checked
    actions: int = 0  # is_legal_action verdicts compared
    tp: int = 0  # legal, accepted
    fp: int = 0  # illegal, accepted (false accept)
    fn: int = 0  # legal, rejected (false reject)
    tn: int = 0  # illegal, rejected
    missing: int = 0
    listed_illegal: int = 0
    illegal_proposal: bool = False
    failures: int = 0
    timeouts: int = 0  # of ``failures``: calls that ran over the sandbox's time limit
    counterexamples: list[dict[str, Any]] = field(default_factory=list)
    checked: bool = True  # False: a ply only played through, where the proposal hung (a timeout, no check)


@dataclass(frozen=True, slots=True)
class GameTask:
    """One game to play and check (picklable: it crosses to a worker process)."""

    game: str
    source: str
    mode: str
    seed: int
    style: str
    index: int
    limits: SandboxLimits | None = None


@dataclass(frozen=True, slots=True)
class Interval:
    """A proportion with its Wilson 95% confidence interval (None when nothing was counted)."""

    value: float | None
    low: float | None
    high: float | None
    n: int


def wilson(successes: int, n: int, z: float = 1.959964) -> Interval:
    """Wilson score interval: honest near 0 and 1, where a harness's precision and recall live."""
    if n == 0:
        return Interval(None, None, None, 0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return Interval(p, low, high, n)


@dataclass(slots=True)
class VerifyReport:
    """The verification of one harness: figures, counterexamples, how it was obtained."""

    game: str
    mode: str
    positions: int = 0
    dead_positions: int = 0
    unknown_positions: int = 0
    games: int = 0
    seeds: tuple[int, int] | None = None
    actions_checked: int = 0
    false_accepts: int = 0
    false_rejects: int = 0
    missing_legal: int = 0
    listed_illegal: int = 0
    illegal_proposals: int = 0
    harness_failures: int = 0
    timeouts: int = 0
    stopped: str | None = None  # why fewer positions than asked were checked, when it was cut short
    true_accepts: int = 0
    true_rejects: int = 0
    counterexamples: list[dict[str, Any]] = field(default_factory=list)
    load_failure: str | None = None
    seconds: float = 0.0
    workers: int = 1

    @property
    def disagreements(self) -> int:
        proposals = self.illegal_proposals if self.mode == "policy" else 0
        checker = self.false_accepts + self.false_rejects + self.missing_legal + self.listed_illegal
        return checker + proposals + self.harness_failures + (1 if self.load_failure else 0)

    @property
    def passed(self) -> bool:
        return self.disagreements == 0 and self.positions > 0

    @property
    def precision(self) -> Interval:
        """Of the actions the checker accepted, the share the game accepts."""
        return wilson(self.true_accepts, self.true_accepts + self.false_accepts)

    @property
    def recall(self) -> Interval:
        """Of the legal actions, the share the checker accepted."""
        return wilson(self.true_accepts, self.true_accepts + self.false_rejects)

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` payload and what ``learn`` stores in summary.json (``verification``)."""
        rate = self.positions / self.seconds if self.seconds > 0 else None
        return {
            "game": self.game,
            "mode": self.mode,
            "positions": self.positions,
            "dead_positions": self.dead_positions,
            "unknown_positions": self.unknown_positions,
            "games": self.games,
            "seeds": list(self.seeds) if self.seeds else None,
            "actions_checked": self.actions_checked,
            "false_accepts": self.false_accepts,
            "false_rejects": self.false_rejects,
            "missing_legal": self.missing_legal,
            "listed_illegal": self.listed_illegal,
            "illegal_proposals": self.illegal_proposals,
            "harness_failures": self.harness_failures,
            "disagreements": self.disagreements,
            "passed": self.passed,
            "precision": asdict(self.precision),
            "recall": asdict(self.recall),
            "counterexamples": self.counterexamples,
            "load_failure": self.load_failure,
            "stopped": self.stopped,
            "seconds": round(self.seconds, 3),
            "positions_per_second": round(rate, 1) if rate else None,
            "workers": self.workers,
            "headline": self.headline(),
        }

    def headline(self) -> str:
        """One line: "verified on N held-out positions: 0 disagreements" or the numbers."""
        if self.load_failure:
            return f"verification failed: the harness does not load ({self.load_failure})"
        if self.positions == 0:
            return f"not verified: {self.stopped or 'no position could be checked'}"
        skipped = [
            f"{n} {what}"
            for n, what in (
                (self.dead_positions, "dead positions"),
                (self.unknown_positions, "positions without a known legal move"),
            )
            if n
        ]
        dead = f" ({', '.join(skipped)} skipped)" if skipped else ""
        if self.passed:
            stopped = f"; {self.stopped}" if self.stopped else ""
            return f"verified on {self.positions} held-out positions: 0 disagreements{dead}{stopped}"
        parts = [
            f"{n} {label}"
            for n, label in (
                (self.false_accepts, "false accepts"),
                (self.false_rejects, "false rejects"),
                (self.missing_legal, "legal moves missing from legal_actions"),
                (self.listed_illegal, "illegal moves listed"),
                (self.illegal_proposals if self.mode == "policy" else 0, "illegal proposals"),
                (self.harness_failures, "harness failures"),
            )
            if n
        ]
        detail = ", ".join(parts) or "no position could be checked"
        stopped = f"; {self.stopped}" if self.stopped else ""
        return (
            f"verification on {self.positions} held-out positions: {self.disagreements} disagreements "
            f"({detail}){dead}{stopped}"
        )


# -- the game's side ---------------------------------------------------------------------------------------


def legal_set(env: Env, observation: str, record: SpaceRecord | None = None) -> tuple[list[str], bool]:
    """The distinct legal actions of the player to move (``envs.actions``), and whether that set is exact:
    the game's own move list, or every candidate of the game's action format tried on clones. Probed and
    cut short by a cap (``exact`` False), an empty set does not prove the position dead. ``record``: the
    game's ``SpaceRecord``, which notes where the moves were found."""
    from .envs.actions import find_legal_actions

    found = find_legal_actions(env, observation, record)
    return found.actions, found.exact


def _malformed(move: str) -> list[str]:
    """Ways an action can be garbled: brackets lost, case changed, truncated, doubled, empty."""
    inner = move.strip("[]")
    return [
        inner,
        move.upper(),
        move[:-2] + move[-1:] if len(move) > 2 else "",
        f"[{inner} {inner}]",
        "",
        "[]",
    ]


def _illegal_candidates(
    env: Env, legal: list[str], exact: bool, seen: dict[str, None], rng: random.Random
) -> dict[str, str | None]:
    """Plausible illegal actions here, by origin quotas, each with the game's reason.

    With an exact move list anything else is illegal and is not played here (``None``: reason not yet
    known; ``check_position`` plays the ones the harness accepts, to confirm and get the game's reason).
    Otherwise each candidate is played on a clone and the ones the game accepts are left out.
    """
    legal_here = set(legal)
    letters = {c for m in legal for c in m if c.islower()}
    pools = {
        "elsewhere": sorted(set(seen) - legal_here),
        "variant": sorted(one_char_variants(rng.sample(legal, min(3, len(legal))), letters) - legal_here),
        "malformed": sorted(set(_malformed(rng.choice(legal))) - legal_here),
    }
    out: dict[str, str | None] = {}
    for origin, quota in ILLEGAL_PER_POSITION.items():
        options = [a for a in pools[origin] if a not in out]
        found = 0
        for action in rng.sample(options, min(len(options), quota if exact else quota * 2)):
            if found >= quota:
                break
            if exact:
                out[action] = None
                found += 1
                continue
            probe = env.clone().step(action)
            if not probe.legal:
                out[action] = probe.reason
                found += 1
    return out


# -- one position ------------------------------------------------------------------------------------------


def _batch(
    session: HarnessSession, calls: list[tuple[str, list[str]]]
) -> list[object | HarnessFailure | None]:
    """All calls in one round trip; after a fatal failure (which cannot be blamed on one call) one by one,
    until one of them is fatal again: the calls after it are not asked (None) — a hanging harness costs one
    call's time limit per position, not one per call."""
    results: list[object | HarnessFailure | None] = list(session.batch(calls))
    first = results[0] if results else None
    blamed_on_all = all(r is first for r in results) and session.load_failure is None
    if len(calls) > 1 and isinstance(first, HarnessFailure) and first.kind in _FATAL and blamed_on_all:
        results = []
        for call in calls:
            answer = session.batch([call])[0]
            results.append(answer)
            if isinstance(answer, HarnessFailure) and answer.kind in (
                FailureKind.TIMEOUT,
                FailureKind.KILLED,
            ):
                results += [None] * (len(calls) - len(results))
                break
    return results


_FATAL = (FailureKind.TIMEOUT, FailureKind.KILLED, FailureKind.OVERSIZED)


def _example(
    kind: str, turn: Turn, action: str | None, harness: object, game: str, reason: str | None, where: dict
) -> dict[str, Any]:
    return {
        "kind": kind,
        "observation": turn.observation,
        "action": action,
        "harness_said": harness,
        "game_said": game,
        "reason": reason,
        "player": turn.player,
        **where,
    }


def check_position(
    env: Env,
    turn: Turn,
    session: HarnessSession,
    mode: str,
    rng: random.Random,
    seen: dict[str, None],
    where: dict[str, Any],
    record: SpaceRecord | None = None,
) -> tuple[PositionResult, str | None, list[str]]:
    """Compare harness and game at one position. Returns the result, the harness's proposal when the game
    accepts it (for play to go on), and the legal actions; ``record`` is the game's (``legal_set``)."""
    obs = turn.observation
    result = PositionResult(hashlib.sha1(obs.encode()).hexdigest()[:16])
    legal, exact = legal_set(env, obs, record)
    if not legal:
        result.dead, result.unknown = exact, not exact
        return result, None, legal
    reasons = _illegal_candidates(env, legal, exact, seen, rng)
    verdicts = [(a, True) for a in legal] + [(a, False) for a in reasons]
    calls: list[tuple[str, list[str]]] = [("propose_action", [obs])]
    if mode != "policy":
        calls += [("is_legal_action", [obs, a]) for a, _ in verdicts]
    if mode == "filter":
        calls.append(("legal_actions", [obs]))
    answers = _batch(session, calls)

    def failed(function: str, action: str | None, failure: HarnessFailure) -> None:
        result.failures += 1
        result.timeouts += failure.kind is FailureKind.TIMEOUT
        example = _example("harness_failure", turn, action, failure.describe(), "-", None, where)
        result.counterexamples.append(example | {"function": function})

    def judge(action: str, truth: bool, said: object) -> None:
        if said is None:  # not asked: an earlier call of this position hung
            return
        if isinstance(said, HarnessFailure):
            failed("is_legal_action", action, said)
            return
        if said and not truth and reasons.get(action) is None:  # not yet played: confirm on a clone
            probe = env.clone().step(action)
            if probe.legal:  # another spelling of a legal move (the game accepts it): not counted
                return
            reasons[action] = probe.reason
        result.actions += 1
        if said and truth:
            result.tp += 1
        elif said:
            result.fp += 1
            ex = _example("false_accept", turn, action, True, "illegal", reasons.get(action), where)
            result.counterexamples.append(ex)
        elif truth:
            result.fn += 1
            result.counterexamples.append(_example("false_reject", turn, action, False, "legal", None, where))
        else:
            result.tn += 1

    proposal = answers[0]
    if mode != "policy":
        for (action, truth), said in zip(verdicts, answers[1 : 1 + len(verdicts)], strict=True):
            judge(action, truth, said)
    playable: str | None = None
    if proposal is None or result.timeouts:  # the harness hung here: no more calls at this position
        pass
    elif isinstance(proposal, HarnessFailure):
        failed("propose_action", None, proposal)
    else:
        assert isinstance(proposal, str)
        if proposal in legal:
            playable = proposal
        elif reasons.get(proposal) is None:  # not listed, not yet played: the game decides on a clone
            judged = proposal in reasons
            probe = env.clone().step(proposal)
            if probe.legal:
                playable = proposal
            else:
                reasons[proposal] = probe.reason
            if mode != "policy" and not judged:  # the checker's verdict on the harness's own proposal
                judge(proposal, probe.legal, _batch(session, [("is_legal_action", [obs, proposal])])[0])
        if playable is None:
            result.illegal_proposal = True
            if mode == "policy":
                ex = _example(
                    "illegal_proposal", turn, proposal, "proposed", "illegal", reasons[proposal], where
                )
                result.counterexamples.append(ex)
    if mode == "filter":
        listed = answers[-1]
        if listed is None:
            pass
        elif isinstance(listed, HarnessFailure):
            failed("legal_actions", None, listed)
        else:
            assert isinstance(listed, list)
            _compare_list(env, turn, legal, listed, result, where)
    return result, playable, legal


def _compare_list(
    env: Env, turn: Turn, legal: list[str], listed: list[str], result: PositionResult, where: dict[str, Any]
) -> None:
    """Filter mode: legal moves ``legal_actions`` left out, and listed moves the game rejects."""
    listed_set = dict.fromkeys(listed)
    accepted: set[str] = set()
    for action in listed_set:
        if action in legal:
            accepted.add(action)
            continue
        probe = env.clone().step(action)
        if probe.legal:  # an alias of a legal move (another spelling the game accepts)
            accepted.add(action)
            continue
        result.listed_illegal += 1
        ex = _example("listed_illegal", turn, action, "listed", "illegal", probe.reason, where)
        result.counterexamples.append(ex)
    for action in legal:
        if action not in accepted:
            result.missing += 1
            ex = _example("missing_legal", turn, action, "not listed", "legal", None, where)
            result.counterexamples.append(ex)


# -- one game ----------------------------------------------------------------------------------------------


def play_game(task: GameTask, pool: WorkerPool) -> list[PositionResult]:
    """Play game ``task.index`` in its style and check sampled positions; a load failure is raised as
    ``_LoadFailed`` (the parent reports it once)."""
    from .envs import make
    from .envs.actions import SpaceRecord, random_legal_action

    env = make(task.game)
    rng = random.Random(f"verify:{task.seed}:{task.style}")
    turn = env.reset(task.seed)
    harness_seats = {
        "random": set(),
        "harness": set(range(env.num_players)),
        "mixed": set(range(env.num_players)),
        "seat0": {0},
        "seat1": {1} if env.num_players > 1 else {0},
    }[task.style]
    random_plies = rng.randint(1, 12) if task.style == "mixed" else 0
    check_probability = rng.choice(CHECK_PROBABILITIES)
    seen: dict[str, None] = {}
    results: list[PositionResult] = []
    # This game's own record of where moves were found (``SpaceRecord``): the same game whichever worker
    # plays it, after whatever this process played before (training, other games), so figures depend on
    # seed and positions alone.
    record = SpaceRecord()
    with _loaded_session(pool, task) as session:
        for ply in range(MAX_PLIES):
            harness_moves = turn.player in harness_seats and ply >= random_plies
            where = {"seed": task.seed, "ply": ply, "style": task.style}
            if len(results) < POSITIONS_PER_GAME and rng.random() < check_probability:
                checked, proposal, legal = check_position(
                    env, turn, session, task.mode, rng, seen, where, record
                )
                results.append(checked)
                if (
                    checked.dead or checked.unknown or checked.timeouts
                ):  # a harness that hangs is not asked again in this game
                    break
            else:  # only played through: no full enumeration of its legal moves
                legal, proposal = [], None
                if harness_moves:
                    proposed = session.propose_action(turn.observation)
                    if isinstance(proposed, HarnessFailure) and proposed.kind is FailureKind.TIMEOUT:
                        results.append(PositionResult("", timeouts=1, checked=False))
                        break  # it hung here: counted towards MAX_TIMEOUTS like a checked position
                    if isinstance(proposed, str) and env.clone().step(proposed).legal:
                        proposal = proposed
            seen.update(dict.fromkeys(legal))
            if harness_moves and proposal is not None:
                move: str | None = proposal
            elif legal:
                move = rng.choice(legal)
            else:
                move = random_legal_action(env, rng, turn.observation, record)
            if move is None:  # no legal move found: the game cannot go on
                break
            seen[move] = None
            step = env.step(move)
            if not step.legal or step.done or step.next is None:
                break
            turn = step.next
    return results


@contextmanager
def _loaded_session(pool: WorkerPool, task: GameTask) -> Iterator[HarnessSession]:
    """A session with the harness loaded; a load that times out or dies is tried once more in a fresh
    process (a kept process that fails to reload is the sandbox's hiccup, not the harness's), then
    ``_LoadFailed``."""
    for attempt in range(2):
        with pool.session(task.source, task.mode) as session:  # type: ignore[arg-type]
            failure = session.load_failure
            if failure is None:
                yield session
                return
            if attempt or failure.kind not in (FailureKind.TIMEOUT, FailureKind.KILLED):
                raise _LoadFailed(failure.describe())
    raise AssertionError("unreachable")


class _LoadFailed(Exception):
    """The harness does not load: nothing can be checked."""


_PROCESS_POOL: list[WorkerPool] = []


def _play_game_in_worker(task: GameTask) -> list[PositionResult] | str:
    """Executor entry point: one sandbox worker per process, kept across this process's games."""
    if not _PROCESS_POOL:
        from .sandbox import WorkerPool

        _PROCESS_POOL.append(WorkerPool(1, limits=task.limits))
    try:
        return play_game(task, _PROCESS_POOL[0])
    except _LoadFailed as exc:
        return str(exc)


# -- the whole verification --------------------------------------------------------------------------------


def _tasks(
    game: str, source: str, mode: str, seed: int, num_players: int, limits: SandboxLimits | None
) -> Iterator[GameTask]:
    styles = STYLES if num_players == 2 else STYLES[:3]
    base = EVAL_SEED_START + VERIFY_SEED_OFFSET + seed * SEED_STRIDE
    for index in range(SEED_STRIDE):
        yield GameTask(game, source, mode, base + index, styles[index % len(styles)], index, limits)


def verify_harness(
    game: str,
    source: str,
    mode: str = "verifier",
    *,
    positions: int = DEFAULT_POSITIONS,
    seed: int = 0,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
    limits: SandboxLimits | None = None,
    max_seconds: float | None = None,
) -> VerifyReport:
    """Check ``source`` on ``positions`` held-out positions of ``game`` (see the module docstring).

    ``workers`` > 1 plays games in that many processes. ``progress(done, positions)`` is called as
    positions are merged. ``limits``: the sandbox's (default ``SandboxLimits()``). ``max_seconds``: stop
    after the game that passes this much wall time (fewer positions; ``stopped`` says so) — only for
    ``autoharness verify --max-seconds``: a cut depends on the machine's speed and load, so ``learn`` and
    ``suite`` never pass it, and their figures depend on ``seed`` and ``positions`` alone. Without it the
    work is still bounded by counts: positions, ``POSITIONS_PER_GAME``, ``MAX_PLIES``, the games cap, and
    a hanging harness by ``MAX_TIMEOUTS`` times the sandbox's per-call time limit.
    """
    from .envs import get_spec
    from .sandbox import MODES

    spec = get_spec(game)
    if mode not in MODES:
        raise ConfigError(f"unknown harness mode {mode!r}; choose one of {', '.join(MODES)}")
    if positions < 1 or workers < 1:
        raise ConfigError("--positions and --workers must be at least 1")
    if not 0 <= seed < (2**31 - EVAL_SEED_START - VERIFY_SEED_OFFSET) // SEED_STRIDE:
        raise ConfigError(f"--seed {seed} is out of range")
    started = time.monotonic()
    report = VerifyReport(game=game, mode=mode, workers=workers)
    max_games = positions * MAX_GAMES_FACTOR // POSITIONS_PER_GAME + 100
    tasks = _tasks(game, source, mode, seed, spec.players, limits)
    deadline = None if max_seconds is None else started + max_seconds
    merger = _Merger(report, positions, progress, deadline)
    if workers == 1:
        from .sandbox import WorkerPool

        with WorkerPool(1, limits=limits) as pool:
            for task in tasks:
                try:
                    outcome: list[PositionResult] | str = play_game(task, pool)
                except _LoadFailed as exc:
                    outcome = str(exc)
                if merger.add(task, outcome) or task.index + 1 >= max_games:
                    break
    else:
        _run_parallel(tasks, workers, merger, max_games)
    if report.positions < positions and not report.stopped and not report.load_failure:
        report.stopped = f"games cap: {report.games} games gave {report.positions} of {positions} positions"
    report.seconds = time.monotonic() - started
    return report


def _run_parallel(tasks: Iterator[GameTask], workers: int, merger: _Merger, max_games: int) -> None:
    """Games in ``workers`` processes, at most two each in flight; merged strictly in game order."""
    from .executors import LocalExecutor

    executor = LocalExecutor(workers, preload=("autoharness.verify", "autoharness.envs.textarena"))
    pending: dict[int, GameTask] = {}
    ready: dict[int, list[PositionResult] | str] = {}
    next_index = 0
    try:
        for task in tasks:
            if task.index >= max_games:
                break
            executor.submit(str(task.index), _play_game_in_worker, task)
            pending[task.index] = task
            while executor.pending() >= 2 * workers or (pending and next_index in ready):
                if next_index not in ready:
                    outcome = executor.next_outcome()
                    index = int(outcome.key)
                    if outcome.error is not None:
                        raise SandboxError(f"a verification worker failed: {outcome.error.describe()}")
                    ready[index] = outcome.value
                    continue
                if merger.add(pending.pop(next_index), ready.pop(next_index)):
                    return
                next_index += 1
        while pending:  # out of tasks (max_games): merge what is left
            if next_index not in ready:
                outcome = executor.next_outcome()
                if outcome.error is not None:
                    raise SandboxError(f"a verification worker failed: {outcome.error.describe()}")
                ready[int(outcome.key)] = outcome.value
                continue
            if merger.add(pending.pop(next_index), ready.pop(next_index)):
                return
            next_index += 1
    finally:
        executor.close()


class _Merger:
    """Adds game results, in game order, to the report until enough positions are counted."""

    def __init__(
        self,
        report: VerifyReport,
        target: int,
        progress: Callable[[int, int], None] | None,
        deadline: float | None = None,
    ) -> None:
        self.report, self.target, self.progress, self.deadline = report, target, progress, deadline
        self.digests: set[str] = set()
        self.stale = 0  # games in a row without a position not seen before
        self.examples: dict[tuple[str, str | None, str], dict[str, Any]] = {}

    def add(self, task: GameTask, outcome: list[PositionResult] | str) -> bool:
        """Merge one game; True when the verification is complete (enough positions, or no load)."""
        r = self.report
        if isinstance(outcome, str):  # the harness does not load: stop here
            r.load_failure = outcome
            return True
        r.games += 1
        r.seeds = (r.seeds[0] if r.seeds else task.seed, task.seed)
        self.stale += 1
        for pos in outcome:
            r.timeouts += pos.timeouts > 0  # counted even for a position seen before: each cost seconds
            if not pos.checked or pos.digest in self.digests:
                continue
            self.digests.add(pos.digest)
            self.stale = 0
            if pos.dead:
                r.dead_positions += 1
                continue
            if pos.unknown:
                r.unknown_positions += 1
                continue
            r.positions += 1
            r.actions_checked += pos.actions
            r.true_accepts += pos.tp
            r.false_accepts += pos.fp
            r.false_rejects += pos.fn
            r.true_rejects += pos.tn
            r.missing_legal += pos.missing
            r.listed_illegal += pos.listed_illegal
            r.illegal_proposals += pos.illegal_proposal
            r.harness_failures += pos.failures
            for example in pos.counterexamples:
                key = (example["kind"], example["action"], str(example["reason"])[:80])
                known = self.examples.get(key)
                if known is None or len(example["observation"]) < len(known["observation"]):
                    self.examples[key] = example
            if r.positions >= self.target:
                break
        r.counterexamples = smallest(list(self.examples.values()))
        if self.progress is not None:
            self.progress(r.positions, self.target)
        if r.positions == 0 and r.games >= GIVE_UP_GAMES:
            r.stopped = (
                f"no legal move could be found in {r.games} games (the game lists none and probing the "
                "observation's candidate moves found none): nothing was verified"
            )
            return True
        if r.positions < self.target and self.deadline is not None and time.monotonic() > self.deadline:
            r.stopped = f"{TIME_CUT} after {r.positions} of {self.target} positions"
            return True
        if r.timeouts >= MAX_TIMEOUTS:
            r.stopped = f"stopped early: the harness ran over the time limit at {r.timeouts} positions"
            return True
        if r.positions < self.target and self.stale >= STALE_GAMES:
            r.stopped = (
                f"no new position in the last {STALE_GAMES} games: the game shows few distinct positions "
                f"({r.positions} of {self.target} found)"
            )
            return True
        return r.positions >= self.target


def smallest(examples: list[dict[str, Any]], limit: int = MAX_COUNTEREXAMPLES) -> list[dict[str, Any]]:
    """The shortest counterexamples, at least one of each kind found, then by observation length."""
    ordered = sorted(
        examples, key=lambda e: (len(e["observation"]), KINDS.index(e["kind"]), str(e["action"]))
    )
    first = {}
    for example in ordered:
        first.setdefault(example["kind"], example)
    chosen = list(first.values())
    chosen += [e for e in ordered if e not in chosen][: max(0, limit - len(chosen))]
    return sorted(chosen[:limit], key=lambda e: (KINDS.index(e["kind"]), len(e["observation"])))


def brief(verification: dict[str, Any] | None) -> dict[str, Any] | None:
    """What of a verification is kept beside a harness (library, suite table): no counterexamples."""
    if verification is None:
        return None
    keys = ("positions", "dead_positions", "disagreements", "false_accepts", "false_rejects", "passed")
    return {k: verification.get(k) for k in keys} | {"headline": verification.get("headline")}


def refuted(verification: dict[str, Any] | None) -> bool:
    """A verification that found disagreements: counterexamples to refine on (not a skipped one)."""
    if not verification:
        return False
    return verification.get("passed") is False and bool(verification.get("disagreements"))


UNKNOWN_SKIPPED = re.compile(r"(\d+) positions without a known legal move")


def shortfall(verification: dict[str, Any] | None, asked: int | None = None) -> list[str]:
    """What a recorded verification's position count needs beside it to be read right: why it stopped before
    ``asked`` positions — a wall-time cut (``TIME_CUT``: the count depends on the machine) told apart from a
    stop by a count (games cap, ``STALE_GAMES``, ``MAX_TIMEOUTS``: the same on any machine) or no reason on
    record — and positions skipped unchecked for want of a known legal move. Reads the stored record
    (``brief``'s keys: the stop reason is the headline's part after "; ")."""
    if not verification or not verification.get("positions"):
        return []
    positions = verification["positions"]
    headline = str(verification.get("headline") or "")
    stopped = str(verification.get("stopped") or "")
    if not stopped and "; " in headline:
        stopped = headline.split("; ", 1)[1]
    notes = []
    if stopped.startswith(TIME_CUT):
        notes.append(f"{stopped} — cut by wall time, so the count depends on the machine's speed and load")
    elif stopped:
        notes.append(f"{stopped} — stopped by a count, not by wall time")
    elif asked is not None and positions < asked:
        notes.append(
            f"{positions} of the {asked} positions asked; the record gives no reason for stopping early"
        )
    if unknown := UNKNOWN_SKIPPED.search(headline):
        notes.append(f"{unknown.group(1)} positions without a known legal move skipped, not checked")
    return notes


def verdict(verification: dict[str, Any] | None) -> str:
    """A short cell: "pass (2000)", "FAIL: 7 of 2000", or "-" when not verified."""
    if not verification:
        return "-"
    if verification.get("passed"):
        return f"pass ({verification.get('positions')})"
    return f"FAIL: {verification.get('disagreements')} of {verification.get('positions')}"


# -- presentation ------------------------------------------------------------------------------------------


def harness_mode(path: Path, source: str) -> str:
    """The mode a harness was learned for: its run's summary.json, else its header, else verifier."""
    import json

    summary = path.parent / "summary.json"
    try:
        mode = json.loads(summary.read_text(encoding="utf-8")).get("mode")
    except (OSError, ValueError, AttributeError):
        mode = None
    if mode is None:
        found = re.search(r"^# mode: (\w+)$", source[:2000], re.M)
        mode = found.group(1) if found else None
    return mode if mode in ("verifier", "filter", "policy") else "verifier"


def _pct(interval: dict[str, Any]) -> str:
    if interval["value"] is None:
        return "-"
    return f"{interval['value']:.4f} [{interval['low']:.4f}, {interval['high']:.4f}] (n={interval['n']})"


def print_report(report: VerifyReport, console: Any) -> None:
    """The readable form: a table of figures, then the counterexamples (observation tail, verdicts)."""
    from rich.table import Table

    d = report.to_dict()
    table = Table(title=f"verify {report.game} ({report.mode} mode)", show_header=False)
    table.add_column("", justify="left")
    table.add_column("", justify="right")
    rows = [
        ("positions (held-out)", d["positions"]),
        ("dead positions (not counted)", d["dead_positions"]),
        ("positions with no legal move found by probing (not counted)", d["unknown_positions"]),
        ("games / seeds", f"{d['games']} / {d['seeds'][0]}..{d['seeds'][1]}" if d["seeds"] else "0"),
        ("actions checked", d["actions_checked"]),
        ("false accepts (illegal judged legal)", d["false_accepts"]),
        ("false rejects (legal judged illegal)", d["false_rejects"]),
    ]
    if report.mode == "filter":
        rows += [("legal moves missing from legal_actions", d["missing_legal"])]
        rows += [("illegal moves in legal_actions", d["listed_illegal"])]
    proposals = "illegal proposals" + ("" if report.mode == "policy" else " (judged by the checker)")
    rows += [
        (proposals, d["illegal_proposals"]),
        ("harness failures", d["harness_failures"]),
        ("disagreements", d["disagreements"]),
        ("checker precision, 95% CI", _pct(d["precision"])),
        ("checker recall, 95% CI", _pct(d["recall"])),
        (
            "time",
            f"{d['seconds']:.1f} s, {d['positions_per_second'] or 0:.1f} positions/s, {d['workers']} workers",
        ),
    ]
    for name, value in rows:
        table.add_row(name, str(value))
    console.print(table)
    for i, ex in enumerate(report.counterexamples, 1):
        tail = "\n".join(ex["observation"].rstrip().splitlines()[-14:])
        console.rule(
            f"counterexample {i}: {ex['kind']} (seed {ex['seed']}, ply {ex['ply']}, {ex['style']} play)"
        )
        console.print(tail, markup=False, highlight=False)
        reason = f" — {ex['reason']}" if ex.get("reason") else ""
        console.print(
            f"action {ex['action']!r}: harness said {ex['harness_said']}, "
            f"the game says {ex['game_said']}{reason}",
            markup=False,
            highlight=False,
        )
    console.print(report.headline(), markup=False, highlight=False)


__all__ = [
    "DEFAULT_POSITIONS",
    "Interval",
    "PositionResult",
    "VerifyReport",
    "brief",
    "check_position",
    "harness_mode",
    "legal_set",
    "print_report",
    "refuted",
    "shortfall",
    "verdict",
    "verify_harness",
    "wilson",
]
