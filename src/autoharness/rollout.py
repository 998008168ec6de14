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

from dataclasses import dataclass, field
from enum import StrEnum

from .sandbox.failures import HarnessFailure


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
