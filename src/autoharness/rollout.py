"""Play one harness against one real game, every seat, and record each step for the critic.

Data flows one way: env → **rollout** → critic → refiner → tree. A rollout stops at the first illegal move
or harness failure (the paper's protocol): training needs that first mistake, with everything around it.

Per-step semantics by mode (the harness contract is in ``autoharness.sandbox.contract``):

* verifier: ``a = propose_action(obs)``; ``ok = is_legal_action(obs, a)``. If ``ok`` the action is played
  and the env decides (env rejects → ``StepVerdict.CHECKER_WRONG``: the checker let an illegal move through).
  If not ``ok`` the env is asked on a clone: illegal there too → ``PROPOSER_WRONG`` (checker right, proposer
  wrong); legal there → ``CHECKER_TOO_STRICT`` (false negative). Either way the rollout stops.
* filter: ``moves = legal_actions(obs)``; every listed move is probed on a clone (``LIST_WRONG`` if one is
  illegal, ``LIST_EMPTY`` if empty while the game goes on); the played move is drawn from the list with the
  rollout's own seeded RNG (a stand-in for the LLM's pick).
* policy: ``a = propose_action(obs)`` is played; env rejects → ``PROPOSER_WRONG``.

Any ``HarnessFailure`` (exception, timeout, bad return, ...) → ``CODE_FAILURE`` with the failure attached.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from .sandbox.failures import HarnessFailure

if TYPE_CHECKING:
    from .envs.base import Env, StepResult, Turn
    from .sandbox import HarnessSession, Mode


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

    @property
    def legal_steps(self) -> int:
        return sum(1 for s in self.steps if s.ok)

    @property
    def first_failure(self) -> StepRecord | None:
        return next((s for s in self.steps if not s.ok), None)


def _finish(rollout: Rollout, env: Env, result: StepResult, normal: bool) -> Rollout:
    """Record how the game ended: rewards whenever the env gave them, ``done`` only for a normal end."""
    rollout.done = normal
    if result.rewards is not None:
        rollout.rewards = dict(result.rewards)
        rollout.normalized_rewards = {p: env.normalized_reward(result.rewards, p) for p in result.rewards}
    return rollout


def _step(
    env: Env, session: HarnessSession, mode: Mode, rng: random.Random, index: int, turn: Turn
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


def play_rollout(env: Env, session: HarnessSession, mode: Mode, seed: int, max_steps: int = 1000) -> Rollout:
    """Play one episode with the harness in every seat, stopping at the first non-LEGAL step.

    Implements the per-mode semantics in this module's docstring. Probing (verifier: a rejected proposal;
    filter: every listed move) happens on ``env.clone()``, so the played game is never touched by it.
    Stopping at ``max_steps`` leaves ``done`` False.
    """
    rollout = Rollout(game=env.id, seed=seed, mode=mode)
    rng = random.Random(seed)  # filter mode's pick; TextArena reseeds the global RNG, so never use that
    turn = env.reset(seed)
    for index in range(max_steps):
        record, result = _step(env, session, mode, rng, index, turn)
        rollout.steps.append(record)
        if not record.ok:
            return rollout if result is None or not result.done else _finish(rollout, env, result, False)
        assert result is not None
        if result.done:
            return _finish(rollout, env, result, True)
        assert result.next is not None
        turn = result.next
    return rollout


def summarize(rollouts: list[Rollout]) -> dict[str, object]:
    """Totals over several rollouts (the ``rollout`` command's JSON): legal-action rate, each stop's cause."""
    steps = sum(len(r.steps) for r in rollouts)
    legal = sum(r.legal_steps for r in rollouts)
    episodes, failures = [], []
    for r in rollouts:
        stop = r.first_failure
        ended = "game over" if r.done else (str(stop.verdict) if stop else "step cap")
        episodes.append(
            {"seed": r.seed, "steps": len(r.steps), "legal_steps": r.legal_steps, "ended": ended}
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
        "steps": steps,
        "legal_steps": legal,
        "episodes": episodes,
        "failures": failures,
    }
