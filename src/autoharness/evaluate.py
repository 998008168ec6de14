"""Evaluate agents the way the paper does, and save the result as an eval directory that ``report`` reads.

Protocol: 1-player games play 20 matches (mean reward, normalised to [0, 1] per game by the env); 2-player
games play 40 matches split evenly between seats (win/draw/loss rates). Match ``i`` uses env seed
``EVAL_SEED_START + i // 2`` in 2-player games (both seats of one seed: seat luck cancels) and
``EVAL_SEED_START + i`` in 1-player games. Training seeds are all below ``EVAL_SEED_START`` (see
``autoharness.learn.config``), so evaluation never replays a training game; every match records its seed.

A match ends when the game does — an illegal move ends it too (the env's rule: the offender loses) — or at
``max_steps`` plies, recorded as ``ended: "step_cap"`` (counted as ``cut``) and scored by what the game itself
gives for the position reached (``envs.base.cut_rewards_of``): a draw in 2-player games (TextArena's own
turn-limit outcome), the game's own progress in 1-player games (0 where a game has none), never a loss.

Forfeits. A match ended by an illegal move is a win or loss *by forfeit*, not by play: ``MatchRecord.forfeit``
says whose move it was (``"agent"`` / ``"opponent"``), and the summary splits ``wins``/``losses`` into
``wins_by_play`` + ``wins_by_forfeit`` (the opponent's illegal move) and ``losses_by_play`` +
``losses_by_forfeit`` (the agent's), with ``forfeits`` / ``opponent_forfeits`` for both sides in any game.
A policy that beats a random opponent only because that opponent plays illegal moves shows it there.

Metrics per agent: ``legal_rate`` = moves the environment accepted / moves the agent sent to it (proposals
the harness stopped first are counted apart, as ``caught``); 2P ``wins``/``draws``/``losses`` (by comparing
the raw rewards of the two seats) and their rates; ``mean_reward``; LLM calls, tokens and ``cost_usd``
(the opponent's are kept apart); fallbacks and harness failures (see ``autoharness.agents``).

Dead positions. When a move is rejected, the game is asked whether any legal move existed
(``rollout.position_is_dead``); if none did (a game with no rule for a player left without moves, e.g.
Breakthrough with every piece blocked), the match ends as ``ended: "dead_position"``: no result (outcome
None, not a loss, not a draw), the move not counted against the mover's legal rate, counted as
``dead_positions`` and left out of ``mean_reward``.

Several agent specs (``--agent verifier:A,verifier:B``) are evaluated on the same seeds and saved together:
the backbone matrix, one table.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from rich.markup import escape
from rich.table import Table

from ._files import atomic_write
from .agents import (
    Agent,
    FilterAgent,
    HarnessSession,
    HumanAgent,
    LLMAgent,
    PolicyAgent,
    RandomAgent,
    VerifierAgent,
)
from .envs import get_spec, make
from .envs.base import Env, cut_rewards_of
from .envs.registry import path_name
from .errors import ConfigError, EnvError, LLMError, SandboxError
from .learn.config import EVAL_SEED_START
from .llm.base import LLMClient, Params
from .llm.provenance import model_label
from .rollout import RolloutEnd, position_is_dead
from .sandbox.failures import FailureKind
from .watch import EvalWatch

EVAL_FILE = "eval.json"
TIME_BUDGET = "time_budget"
"""``MatchEnd.ended`` of a match cut by the evaluation's time budget (``--eval-seconds``)."""
MAX_STEPS = 1000
MATCHES = {1: 20, 2: 40}
"""The paper's match counts by number of players."""

HARNESS_KINDS = {"policy": "policy", "verifier": "verifier", "filter": "filter"}
"""Agent kind → the harness mode its sandbox session is opened in."""
USABLE_MODES = {
    "policy": ("policy", "verifier", "filter"),
    "verifier": ("verifier", "filter"),
    "filter": ("filter",),
}
"""Agent kind → the modes of learned harnesses it can play with, best first (every mode's harness proposes
legal moves; a filter harness also checks them; only a filter harness lists them)."""
LLM_KINDS = ("llm", "verifier", "filter")
KINDS = ("random", "policy", "llm", "verifier", "filter")


@dataclass(frozen=True, slots=True)
class AgentSpec:
    """``random`` | ``policy`` | ``llm:MODEL`` | ``verifier:MODEL`` | ``filter:MODEL``."""

    kind: str
    model: str | None = None

    @classmethod
    def parse(cls, text: str) -> AgentSpec:
        kind, _, model = text.strip().partition(":")
        if kind not in KINDS:
            raise ConfigError(
                f"unknown agent {text!r}: use one of random, policy, llm:MODEL, verifier:MODEL, filter:MODEL"
            )
        if kind in LLM_KINDS and not model:
            raise ConfigError(f"agent {kind!r} needs a model: {kind}:MODEL")
        if kind not in LLM_KINDS and model:
            raise ConfigError(f"agent {kind!r} takes no model (got {text!r})")
        return cls(kind, model or None)

    @classmethod
    def parse_list(cls, text: str) -> list[AgentSpec]:
        specs = [cls.parse(part) for part in text.split(",") if part.strip()]
        if not specs:
            raise ConfigError("--agent needs at least one agent spec")
        return specs

    @property
    def needs_harness(self) -> bool:
        return self.kind in HARNESS_KINDS

    def __str__(self) -> str:
        return f"{self.kind}:{self.model}" if self.model else self.kind


@dataclass(slots=True)
class MatchRecord:
    """One match from the evaluated agent's seat."""

    index: int
    seed: int
    seat: int
    steps: int
    ended: str  # "done" | "illegal" (a move was rejected: it ends the game) | "step_cap" | "dead_position"
    reason: str | None  # the environment's text for the illegal move that ended the match
    rewards: dict[str, float] | None  # raw, per player
    reward: float  # the agent's normalised reward in [0, 1]
    outcome: str | None  # 2P: "win" | "draw" | "loss", None: no result (a dead position); 1P: None
    agent: dict[str, Any]
    opponent: dict[str, Any] | None
    seconds: float
    forfeit: str | None = None  # whose illegal move ended the match: "agent" | "opponent"; None: no forfeit


@dataclass(slots=True)
class EvalResult:
    """One agent spec over all matches of one game; the aggregates are what tables and plots show."""

    game: str
    agent: str
    opponent: str | None
    num_players: int
    temperature: float = 1.0  # sampling temperature of every LLM agent (agent and opponent)
    matches: list[MatchRecord] = field(default_factory=list)
    aborted: str | None = None  # why the evaluation stopped early (LLM or env error); matches so far kept
    eval_seconds: float | None = None  # the time budget of this agent's evaluation (``--eval-seconds``)
    time_cut: int = 0  # matches cut by that budget before they ended: not played, not in ``matches``
    not_started: int = 0  # matches never started because the budget was spent

    def _sum(self, key: str, who: str = "agent") -> float:
        return sum(getattr(m, who)[key] for m in self.matches if getattr(m, who) is not None)

    def summary(self) -> dict[str, Any]:
        n = len(self.matches)
        scored = [m for m in self.matches if m.ended != "dead_position"]
        moves, legal = self._sum("moves"), self._sum("legal_moves")
        opp_moves = self._sum("moves", "opponent")
        out: dict[str, Any] = {
            "game": self.game,
            "agent": self.agent,
            "opponent": self.opponent,
            "num_players": self.num_players,
            "temperature": self.temperature,
            "matches": n,
            "seeds": sorted({m.seed for m in self.matches}),
            "legal_rate": legal / moves if moves else None,
            "moves": int(moves),
            "illegal_moves": int(moves - legal),
            "mean_reward": sum(m.reward for m in scored) / len(scored) if scored else None,
            "caught": int(self._sum("caught")),
            "retry_exhausted": int(self._sum("retry_exhausted")),
            "fallback_moves": int(self._sum("fallback_moves")),
            "harness_failures": sum(len(m.agent["harness_failures"]) for m in self.matches),
            "llm_calls": int(self._sum("llm_calls")),
            "prompt_tokens": int(self._sum("prompt_tokens")),
            "completion_tokens": int(self._sum("completion_tokens")),
            "cost_usd": self._sum("cost_usd"),
            "provenance": sorted({p for m in self.matches for p in m.agent["provenance"]}),
            "opponent_legal_rate": self._sum("legal_moves", "opponent") / opp_moves if opp_moves else None,
            "opponent_cost_usd": self._sum("cost_usd", "opponent"),
            "aborted": self.aborted,
            "eval_seconds": self.eval_seconds,
            "time_cut": self.time_cut,
            "not_started": self.not_started,
        }
        out["tokens"] = out["prompt_tokens"] + out["completion_tokens"]
        out["cut"] = sum(m.ended == "step_cap" for m in self.matches)
        out["dead_positions"] = n - len(scored)
        out["forfeits"] = sum(m.forfeit == "agent" for m in self.matches)
        out["opponent_forfeits"] = sum(m.forfeit == "opponent" for m in self.matches)
        if self.num_players > 1:
            for outcome, key in (("win", "wins"), ("draw", "draws"), ("loss", "losses")):
                out[key] = sum(m.outcome == outcome for m in self.matches)
                out[f"{outcome}_rate"] = out[key] / n if n else None
            out["wins_by_forfeit"] = sum(m.outcome == "win" and m.forfeit is not None for m in self.matches)
            out["losses_by_forfeit"] = sum(
                m.outcome == "loss" and m.forfeit is not None for m in self.matches
            )
            out["wins_by_play"] = out["wins"] - out["wins_by_forfeit"]
            out["losses_by_play"] = out["losses"] - out["losses_by_forfeit"]
        return out

    def to_dict(self) -> dict[str, Any]:
        return self.summary() | {"match_records": [asdict(m) for m in self.matches]}


class MatchEnd(NamedTuple):
    plies: int
    ended: str  # "done" | "illegal" | "step_cap" | "dead_position"
    rewards: dict[int, float] | None  # raw, per player; when capped, the game's value of the position
    reason: str | None  # the environment's text when an illegal move ended the match
    offender: int | None = None  # the seat whose illegal move ended the match


def play_match(
    env: Env, agents: Sequence[Agent], seed: int, max_steps: int = MAX_STEPS, watch: EvalWatch | None = None
) -> MatchEnd:
    """Play one game, seat ``p`` taken by ``agents[p]``; ``watch`` counts its plies and, once its time
    budget is spent, cuts it (``ended: "time_budget"``: not played to an end)."""
    turn = env.reset(seed)
    for player, agent in enumerate(agents):
        agent.begin_match(env, player, seed)
    moves: list[str] = []  # what the game received: a dead position is rebuilt from them
    for ply in range(1, max_steps + 1):
        if watch is not None and watch.expired():
            return MatchEnd(ply - 1, TIME_BUDGET, None, None)
        agent = agents[turn.player]
        action = agent.act(turn.observation, turn.player)
        result = env.step(action)
        if not result.legal and position_is_dead(env, seed, moves, turn.observation):
            return MatchEnd(ply, "dead_position", None, RolloutEnd.DEAD_POSITION.value)
        agent.stats.record_move(result.legal)
        moves.append(action)
        if watch is not None:
            watch.step()
        if result.done:
            if not result.legal:
                return MatchEnd(ply, "illegal", result.rewards, result.reason, turn.player)
            return MatchEnd(ply, "done", result.rewards, result.reason)
        if result.next is None:
            raise EnvError(f"{env.id}: the env reported no next turn in a running game")
        turn = result.next
    return MatchEnd(max_steps, "step_cap", cut_rewards_of(env), None)


def _score(env: Env, seat: int, ended: str, rewards: dict[int, float] | None) -> tuple[float, str | None]:
    """(normalised reward, outcome) for ``seat``; a capped match with no value from the game is a draw /
    reward 0; a dead position is no result (outcome None)."""
    if ended == "dead_position":
        return 0.0, None
    if rewards is None:
        return 0.0, "draw" if env.num_players > 1 else None
    reward = env.normalized_reward(rewards, seat)
    if env.num_players == 1:
        return reward, None
    mine = rewards.get(seat, 0.0)
    best_other = max(v for p, v in rewards.items() if p != seat)
    return reward, "win" if mine > best_other else "loss" if mine < best_other else "draw"


def match_plan(num_players: int, matches: int) -> list[tuple[int, int]]:
    """(seed, seat) for each match: 2P games give each seed to both seats in turn."""
    if num_players == 1:
        return [(EVAL_SEED_START + i, 0) for i in range(matches)]
    return [(EVAL_SEED_START + i // 2, i % 2) for i in range(matches)]


class Harnesses:
    """Sandbox sessions of one harness source on one worker pool (started on first use), closed together."""

    def __init__(self, source: str | None, on_call: Callable[[str, float], None] | None = None) -> None:
        self.source = source
        self.on_call = on_call  # each session's harness-call timings (the evaluation's ``EvalWatch``)
        self._stack = ExitStack()
        self._pool: Any = None

    def __enter__(self) -> Harnesses:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def open(self, mode: str) -> HarnessSession | None:
        """A session in ``mode``; None when no harness was given."""
        if self.source is None:
            return None
        if self._pool is None:
            from .sandbox import WorkerPool

            self._pool = self._stack.enter_context(WorkerPool(2))
        session = self._stack.enter_context(self._pool.session(self.source, mode))
        session.on_call = self.on_call
        return session


def build_agent(
    spec: AgentSpec,
    harnesses: Harnesses,
    make_llm: Callable[[str], LLMClient],
    temperature: float = 1.0,
) -> Agent:
    """The agent for ``spec`` (LLM agents sample at ``temperature``). A random agent uses the harness's
    legal list when it has one."""
    if spec.kind == "random":
        session = harnesses.open("filter")
        failure = session.load_failure if session is not None else None
        if failure is not None and failure.kind is FailureKind.MISSING_FUNCTION:
            session = None  # a verifier/policy harness: no list to draw from, probe instead
        return RandomAgent(session)
    harness = harnesses.open(HARNESS_KINDS[spec.kind]) if spec.needs_harness else None
    if spec.kind == "policy":
        return PolicyAgent(harness)
    assert spec.model is not None
    cls: type[LLMAgent] = {"llm": LLMAgent, "verifier": VerifierAgent, "filter": FilterAgent}[spec.kind]
    return cls(make_llm(spec.model), harness, params=Params(temperature=temperature))


def run_match(
    env: Env,
    agent: Agent,
    opponent: Agent | None,
    *,
    index: int,
    seed: int,
    seat: int,
    max_steps: int,
    watch: EvalWatch | None = None,
) -> MatchRecord:
    """One match with ``agent`` in ``seat`` (and ``opponent`` in the other), as a record."""
    seats: list[Agent] = (
        [agent] if opponent is None else ([agent, opponent] if seat == 0 else [opponent, agent])
    )
    start = time.perf_counter()
    steps, ended, rewards, reason, offender = play_match(env, seats, seed, max_steps, watch)
    reward, outcome = _score(env, seat, ended, rewards)
    forfeit = None if offender is None else "agent" if offender == seat else "opponent"
    return MatchRecord(
        index=index,
        seed=seed,
        seat=seat,
        steps=steps,
        ended=ended,
        reason=reason,
        rewards={str(p): v for p, v in rewards.items()} if rewards else None,
        reward=reward,
        outcome=outcome,
        agent=agent.stats.to_dict(),
        opponent=opponent.stats.to_dict() if opponent else None,
        seconds=round(time.perf_counter() - start, 4),
        forfeit=forfeit,
    )


def _check(game: str, wanted: Sequence[AgentSpec], harness_source: str | None, make_llm: object) -> int:
    """Reject what cannot run before anything starts; returns the number of players."""
    num_players = get_spec(game).players
    if num_players > 2:
        raise ConfigError(f"{game} has {num_players} players; only 1- and 2-player games are supported")
    needing = [s for s in wanted if s.needs_harness]
    if harness_source is None and needing:
        raise ConfigError(f"agent {needing[0]} needs a harness: pass --harness FILE")
    if make_llm is None and any(s.kind in LLM_KINDS for s in wanted):
        raise ConfigError("an LLM agent needs a model endpoint")
    return num_players


def evaluate(
    game: str,
    agents: Sequence[AgentSpec],
    *,
    opponent: AgentSpec | None = None,
    harness_source: str | None = None,
    matches: int | None = None,
    make_llm: Callable[[str], LLMClient] | None = None,
    max_steps: int = MAX_STEPS,
    workers: int = 1,
    temperature: float = 1.0,
    on_match: Callable[[EvalResult, MatchRecord], None] | None = None,
    results: list[EvalResult] | None = None,
    eval_seconds: float | None = None,
    on_progress: Callable[[EvalWatch], None] | None = None,
) -> list[EvalResult]:
    """Evaluate each agent spec on ``game`` under the paper's protocol, all on the same seeds.

    ``make_llm(model)`` builds LLM clients (the CLI passes ``autoharness.llm.make_client``); every LLM agent
    (and an LLM opponent) samples at ``temperature``. An ``LLMError``
    (endpoint gone, budget spent) or an ``EnvError`` (the game itself crashed on some action) stops that
    agent's evaluation: the matches played so far are kept and the reason is recorded in ``aborted``.
    A ``SandboxError`` (the sandbox itself failed: no harness is to blame, so the match it struck is not
    counted, not even as a forfeit) stops the whole evaluation: it is raised, the agent in progress marked
    ``aborted`` in ``results``. The opponent of a 2-player game defaults to ``random``.

    Each agent's ``EvalResult`` is appended to ``results`` (a new list unless given) when its matches
    start: a caller that passes its own list keeps what was played if interrupted (Ctrl-C, SIGTERM), the
    agent in progress marked ``aborted``. Matches in flight when interrupted are finished, none is started.

    ``eval_seconds`` is each agent's time budget: a match still running when it is spent is cut and counted
    in ``time_cut``, the matches not yet started in ``not_started`` — neither is played, so neither is in
    ``matches`` nor in any rate. ``on_progress`` gets the live counters (``autoharness.watch.EvalWatch``:
    matches finished, plies, elapsed, slowest harness call; ``label`` is the agent spec).

    ``workers`` > 1 plays matches in threads, each with its own env, sandbox sessions and agents: worth it
    for LLM agents (waiting on the endpoint), not for CPU-bound ones. Agents reseed per match, so results
    do not depend on the number of workers.
    """
    num_players = _check(game, [*agents, *([opponent] if opponent else [])], harness_source, make_llm)
    if num_players == 1 and opponent is not None:
        raise ConfigError(f"{game} is a 1-player game: --opponent does not apply")
    opponent = opponent or (AgentSpec("random") if num_players == 2 else None)
    n = matches if matches is not None else MATCHES[num_players]
    if n < 1:
        raise ConfigError("--matches must be ≥ 1")
    if workers < 1:
        raise ConfigError("--workers must be ≥ 1")
    if not 0 <= temperature <= 2:
        raise ConfigError(f"--temperature must be in [0, 2] (got {temperature})")
    if eval_seconds is not None and not eval_seconds > 0:
        raise ConfigError(f"--eval-seconds must be > 0 (got {eval_seconds})")
    llm = make_llm or _no_llm
    plan = list(enumerate(match_plan(num_players, n)))
    results = [] if results is None else results
    for spec in agents:
        result = EvalResult(game, str(spec), str(opponent) if opponent else None, num_players, temperature)
        result.eval_seconds = eval_seconds
        results.append(result)
        watch = EvalWatch(len(plan), eval_seconds, on_progress, label=str(spec))
        try:
            _play_all(result, spec, opponent, plan, harness_source, llm, max_steps, workers, on_match, watch)
        except KeyboardInterrupt:
            result.aborted = result.aborted or "interrupted"
            raise
        except SandboxError as exc:  # the machine's failure: no harness's result, the whole evaluation stops
            result.aborted = result.aborted or f"SandboxError: {exc}"
            raise
    return results


def _play_all(
    result: EvalResult,
    spec: AgentSpec,
    opponent: AgentSpec | None,
    plan: list[tuple[int, tuple[int, int]]],
    harness_source: str | None,
    make_llm: Callable[[str], LLMClient],
    max_steps: int,
    workers: int,
    on_match: Callable[[EvalResult, MatchRecord], None] | None,
    watch: EvalWatch,
) -> None:
    """Play ``plan`` (index, (seed, seat)) for one agent spec into ``result``, on ``workers`` threads,
    within ``watch``'s time budget."""
    lock, stop = threading.Lock(), threading.Event()

    def play_share(share: list[tuple[int, tuple[int, int]]]) -> None:
        """One worker: its own env, sandbox sessions and agents, playing every ``workers``-th match."""
        env = make(result.game)
        with Harnesses(harness_source, on_call=watch.call) as harnesses:
            agent = build_agent(spec, harnesses, make_llm, result.temperature)
            opp = build_agent(opponent, harnesses, make_llm, result.temperature) if opponent else None
            watch.begin()  # the budget counts from the first match, not from setting up the sandbox
            for index, (seed, seat) in share:
                if stop.is_set():
                    return
                if watch.expired():
                    with lock:
                        result.not_started += 1
                    continue
                try:
                    record = run_match(
                        env, agent, opp, index=index, seed=seed, seat=seat, max_steps=max_steps, watch=watch
                    )
                except (LLMError, EnvError) as exc:  # endpoint gone, budget spent, env broke its protocol
                    with lock:
                        result.aborted = result.aborted or f"{type(exc).__name__}: {exc}"
                    stop.set()
                    return
                if record.ended == TIME_BUDGET:  # cut, not played: kept out of every figure
                    with lock:
                        result.time_cut += 1
                    watch.game_over(cut=True)
                    continue
                with lock:
                    result.matches.append(record)
                    if on_match:
                        on_match(result, record)
                watch.game_over()

    count = max(1, min(workers, len(plan)))
    try:
        with ThreadPoolExecutor(count) as pool:
            try:
                list(
                    pool.map(play_share, [plan[w::count] for w in range(count)])
                )  # re-raises a worker's error
            except BaseException:  # interrupted (or a worker failed): the others start no further match
                stop.set()
                raise
    finally:
        result.matches.sort(key=lambda m: m.index)


def play(
    game: str,
    *,
    seat: int = 0,
    seed: int = EVAL_SEED_START,
    opponent: AgentSpec | None = None,
    harness_source: str | None = None,
    make_llm: Callable[[str], LLMClient] | None = None,
    read: Callable[[str], str] = input,
    write: Callable[[str], None] = print,
) -> MatchRecord:
    """One match for a person at the terminal (``seat``) against ``opponent`` (default ``random``).
    With a harness, its checker warns before an illegal move is played."""
    num_players = _check(game, [opponent] if opponent else [], harness_source, make_llm)
    if not 0 <= seat < num_players:
        raise ConfigError(f"--seat must be in 0..{num_players - 1} for {game}")
    if num_players == 1 and opponent is not None:
        raise ConfigError(f"{game} is a 1-player game: --opponent does not apply")
    opponent = opponent or (AgentSpec("random") if num_players == 2 else None)
    with Harnesses(harness_source) as harnesses:
        human = HumanAgent(harnesses.open("verifier"), read=read, write=write)
        opp = build_agent(opponent, harnesses, make_llm or _no_llm) if opponent else None
        return run_match(make(game), human, opp, index=0, seed=seed, seat=seat, max_steps=MAX_STEPS)


def _no_llm(model: str) -> LLMClient:
    raise ConfigError(f"no LLM endpoint configured for model {model!r}")


def save_eval(
    out: Path, results: Sequence[EvalResult], *, harness_path: Path | None, harness_source: str | None
) -> Path:
    """Write ``out/eval.json`` (created or replaced) and return its path.

    The matches are already played: if ``out`` cannot be written (a full disk, a file in the way), the results
    go to a file in the system's temp dir instead, and the ``ConfigError`` says where.
    """
    payload = {
        "kind": "eval",
        "version": 1,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "game": results[0].game if results else None,
        "eval_seed_start": EVAL_SEED_START,  # every training seed is below this
        "harness": None
        if harness_source is None
        else {
            "path": str(harness_path) if harness_path else None,
            "sha256": hashlib.sha256(harness_source.encode()).hexdigest(),
        },
        "results": [r.to_dict() for r in results],
    }
    path = out / EVAL_FILE
    text = json.dumps(payload, indent=2)
    try:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write(path, text)
    except OSError as exc:
        kept = Path(tempfile.gettempdir()) / f"autoharness-{out.name}-{secrets.token_hex(4)}.{EVAL_FILE}"
        try:
            atomic_write(kept, text)
        except OSError:
            sys.stdout.write(text + "\n")  # nowhere to write: the results themselves, on stdout
            where = "printed on stdout above"
        else:
            where = f"saved to {kept} instead"
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}; the results were {where}") from exc
    return path


def check_out(out: Path) -> None:
    """Before any match is played: ``out`` must be a directory we can write (or creatable)."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file: give a directory for eval.json")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test-{secrets.token_hex(4)}"
        probe.write_text("ok", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"cannot write to --out {out}: {exc.strerror or exc}") from exc


def load_harness(path: Path) -> tuple[Path, str]:
    """Harness source from a file, or from a learn run dir (its ``harness.py``)."""
    file = path / "harness.py" if path.is_dir() else path
    try:
        return file, file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read harness {file}: {exc}") from exc


def default_out(game: str) -> Path:
    """Where an eval is saved when ``--out`` is not given: ``runs/eval-GAME-UTCSTAMP``."""
    return Path("runs") / f"eval-{path_name(game)}-{datetime.now(UTC):%Y%m%d-%H%M%S}"


FORFEIT_NOTE = (
    "by forfeit: an illegal move ended the match (the offender loses); by play: the game's own end; "
    "cut: stopped at the step cap, scored as the game scores that position (2-player: a draw); "
    "no result: a player had no legal move at all (a game defect), not in W/D/L or mean reward"
)
"""Printed wherever W/D/L or forfeit counts are shown."""


def wdl_text(summary: dict[str, Any]) -> str:
    """``W/D/L`` of a 2-player summary, with the wins and losses by forfeit named when there are any (an
    eval.json written before forfeits were counted shows plain W/D/L)."""
    text = f"{summary['wins']}/{summary['draws']}/{summary['losses']}"
    notes = []
    if summary.get("wins_by_forfeit"):
        notes.append(f"{summary['wins_by_forfeit']} W by opponent's forfeit")
    if summary.get("losses_by_forfeit"):
        notes.append(f"{summary['losses_by_forfeit']} L by own forfeit")
    if summary.get("cut"):
        notes.append(f"{summary['cut']} D cut at the step cap")
    if summary.get("dead_positions"):
        notes.append(f"{summary['dead_positions']} no result: no legal move existed (game defect)")
    return text + (f" ({'; '.join(notes)})" if notes else "")


def results_table(results: Sequence[EvalResult]) -> Table:
    """One row per agent spec (the backbone matrix when several models were evaluated)."""
    first = results[0]
    versus = f" vs {first.opponent}" if first.opponent else ""
    table = Table(title=f"{first.game}{versus}: {len(first.matches)} matches per agent", caption=FORFEIT_NOTE)
    two = first.num_players == 2
    summaries = [r.summary() for r in results]
    dead = any(s["dead_positions"] for s in summaries)  # the column only where a game had one
    headers = ["agent", "legal rate"]
    if two:
        headers += ["W/D/L", "by forfeit W/L"]
    else:
        headers += ["mean reward", "forfeits", "cut"]
    headers += ["no result"] if dead else []
    for header in [*headers, "LLM calls", "tokens", "USD", "caught", "fallbacks", "harness fails"]:
        table.add_column(header, justify="left" if header == "agent" else "right")
    for s in summaries:
        if two:
            play = [
                f"{s['wins']}/{s['draws']}/{s['losses']}",
                f"{s['wins_by_forfeit']}/{s['losses_by_forfeit']}",
            ]
        else:
            play = [_num(s["mean_reward"]), str(s["forfeits"]), str(s["cut"])]
        play += [str(s["dead_positions"])] if dead else []
        table.add_row(
            escape(model_label(s["agent"], s["provenance"]))
            + (" [red](stopped early)[/]" if s["aborted"] else "")
            + _time_note(s),
            _num(s["legal_rate"]),
            *play,
            str(s["llm_calls"]),
            str(s["tokens"]),
            f"{s['cost_usd']:.4f}",
            str(s["caught"]),
            str(s["fallback_moves"]),
            str(s["harness_failures"]),
        )
    return table


def _time_note(summary: dict[str, Any]) -> str:
    """What the time budget left unplayed (markup for the agent cell), or nothing."""
    cut, skipped = summary.get("time_cut") or 0, summary.get("not_started") or 0
    if not cut and not skipped:
        return ""
    budget = summary["eval_seconds"]
    return f" [yellow](--eval-seconds {budget:g}: {cut} cut, {skipped} not started; not played)[/]"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def load_eval(directory: Path) -> dict[str, Any]:
    """The saved payload of an eval directory."""
    path = directory / EVAL_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read eval results {path}: {exc}") from exc


__all__ = [
    "EVAL_FILE",
    "FORFEIT_NOTE",
    "MATCHES",
    "AgentSpec",
    "EvalResult",
    "Harnesses",
    "MatchEnd",
    "MatchRecord",
    "build_agent",
    "check_out",
    "default_out",
    "evaluate",
    "load_eval",
    "load_harness",
    "match_plan",
    "play",
    "play_match",
    "results_table",
    "run_match",
    "save_eval",
    "wdl_text",
]
