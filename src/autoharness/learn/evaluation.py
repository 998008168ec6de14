"""What one evaluation of one code version found, and the heuristic value H derived from it.

Heuristic value H (what the tree search maximises):

* verifier / filter: H = legal-step rate × probe agreement. The legal-step rate is legal steps / all steps
  over the rollouts (a rollout stops at its first illegal move or code failure, so one mistake early
  costs the rest of that game). Probe agreement is 1 − mismatches / probes (1 with probing off). A rollout
  that reached a dead position (no legal move exists: ``rollout.RolloutEnd.DEAD_POSITION``) ends there and
  that step is not one of its steps, so a harness whose only failures are dead positions has H = 1.
  Moves are compared by the position they lead to: a probe that is only another spelling of a move the
  harness lists or accepts (``spellings``) is reported apart and counts neither way.
* policy: H = 0 if any rollout made an illegal move or a code failure, else 0.5 + 0.5·r, where r is the
  mean over rollouts of the harness's normalised reward (``Env.normalized_reward``: the env maps its raw
  reward range to [0, 1]). A rollout cut by the step cap scores what the game itself gives for the position
  reached (its own progress; a draw in 2-player games; ``rollout.RolloutEnd.STEP_CAP``), never 0 for being
  cut. Rollouts with no result for the harness — the random opponent forfeited (its move was rejected), the
  game crashed, or a dead position — are left out of r (``rollout.NO_RESULT``): a win by forfeit is not a
  win.

  - 1-player games: the harness's one seat.
  - 2-player games (``opponent == "random"``): each rollout's harness seat (``Rollout.seat``,
    alternating), against a seeded random opponent that plays only legal moves (``envs.actions``) —
    winning every game gives H = 1. (A rollout without a seat, the harness in both seats, averages them.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..rollout import NO_RESULT, Rollout, RolloutEnd, StepRecord
from ..sandbox.contract import StaticIssue
from ..sandbox.failures import HarnessFailure


@dataclass(frozen=True, slots=True)
class ProbeMismatch:
    """A probed action where the harness and the env disagree."""

    seed: int
    step: int
    player: int
    observation: str
    action: str
    checker_said: bool | None  # None in filter mode (the action was simply not listed) or on a failure
    env_legal: bool
    env_reason: str | None = None
    failure: HarnessFailure | None = None
    same_as: str | None = None
    """Set on a spelling-only difference: the spelling of the same move (same successor position) that the
    harness lists or accepts. Information, not a failure (``Evaluation.spellings``)."""

    @property
    def too_strict(self) -> bool:
        """The harness rejected (or did not list) an action the env accepts: a false negative."""
        return self.env_legal


TIME_CUT = "cut by the time budget"
"""A rollout's ``end`` in summaries when a time budget stopped it (it was not played to an end)."""


@dataclass(slots=True)
class Evaluation:
    """Everything one evaluation of one code version found."""

    mode: str
    rollouts: list[Rollout] = field(default_factory=list)
    load_failure: HarnessFailure | None = None
    static_issues: list[StaticIssue] = field(default_factory=list)
    probes: int = 0
    mismatches: list[ProbeMismatch] = field(default_factory=list)
    spellings: list[ProbeMismatch] = field(default_factory=list)
    """Probed actions the game accepts that the harness did not list or accept, though it lists or accepts
    another spelling of the same move (``[col 03]`` for ``[col 3]``): not mismatches, not probes."""
    opponent: str | None = None
    """2-player policy mode: ``"random"`` (see the module docstring); else None."""
    out_of_time: bool = False
    """The learner's wall-clock budget ran out during it: H is 0, the figures cover only what was played."""
    eval_seconds: float | None = None
    """The evaluation's own time budget (``LearnConfig.eval_seconds``): rollouts still running when it
    passed are cut (``Rollout.out_of_time``): legal steps counted, reward left out (not played)."""
    slowest_call: tuple[float, str] | None = None
    """(seconds, function) of the slowest harness call during the rollouts."""

    @property
    def time_cut(self) -> int:
        """Rollouts cut by the evaluation's time budget (not by the run's wall budget)."""
        return 0 if self.out_of_time else sum(r.out_of_time for r in self.rollouts)

    @property
    def steps(self) -> int:
        return sum(len(r.steps) for r in self.rollouts)

    @property
    def legal_rate(self) -> float:
        steps = self.steps
        return sum(r.legal_steps for r in self.rollouts) / steps if steps else 0.0

    @property
    def dead_positions(self) -> int:
        """Rollouts that ended where the player to move had no legal move at all (a defect of the game)."""
        return sum(r.end is RolloutEnd.DEAD_POSITION for r in self.rollouts)

    @property
    def scored(self) -> list[Rollout]:
        """The rollouts whose reward says something about the harness (not a forfeit or crash of others)."""
        return [r for r in self.rollouts if r.end not in NO_RESULT and not r.out_of_time]

    @property
    def reward(self) -> float:
        """Mean normalised end-of-game reward of the harness's seat over the scored rollouts (seats averaged
        in self-play; a cut rollout counts the game's value of its position; 0 when none is scored)."""
        scored = self.scored
        return sum(seat_reward(r) for r in scored) / len(scored) if scored else 0.0

    @property
    def probe_agreement(self) -> float:
        return 1.0 - len(self.mismatches) / self.probes if self.probes else 1.0

    @property
    def h(self) -> float:
        if self.load_failure is not None or self.static_issues or not self.rollouts or self.out_of_time:
            return 0.0
        if self.mode == "policy":
            if any(r.first_failure is not None for r in self.rollouts):
                return 0.0
            return 0.5 + 0.5 * self.reward
        return self.legal_rate * self.probe_agreement

    def failed_steps(self) -> list[tuple[int, StepRecord]]:
        """(seed, first failed step) of every rollout that failed, in seed order."""
        return [(r.seed, f) for r in self.rollouts if (f := r.first_failure) is not None]

    def summary(self) -> dict[str, Any]:
        """JSON-ready digest stored with the node (``opponent`` and its note only in 2-player policy mode)."""
        summary: dict[str, Any] = {
            "h": self.h,
            "legal_rate": self.legal_rate,
            "reward": self.reward,
            "steps": self.steps,
            "load_failure": self.load_failure.describe() if self.load_failure else None,
            "static_issues": [i.describe() for i in self.static_issues],
            "probes": self.probes,
            "mismatches": len(self.mismatches),
            "spelling_variants": len(self.spellings),
            "too_strict": sum(m.too_strict for m in self.mismatches),
            "out_of_time": self.out_of_time,
            "dead_positions": self.dead_positions,
            "eval_seconds": self.eval_seconds,
            "time_cut": self.time_cut,
            # timings only where a time budget cut games (summaries are otherwise deterministic for a seed)
            "slowest_call": {"seconds": round(self.slowest_call[0], 4), "function": self.slowest_call[1]}
            if self.slowest_call and self.time_cut
            else None,
            "rollouts": [
                {
                    "seed": r.seed,
                    "steps": len(r.steps),
                    "legal_steps": r.legal_steps,
                    "done": r.done,
                    "end": TIME_CUT if r.out_of_time else r.end.value,
                    "reward": seat_reward(r),
                    **({"seat": r.seat} if r.seat is not None else {}),
                    "failure": r.first_failure.verdict.value if r.first_failure else None,
                }
                for r in self.rollouts
            ],
        }
        if self.opponent is not None:
            summary["opponent"] = self.opponent
        return summary


def seat_reward(rollout: Rollout) -> float:
    """The harness's normalised reward: its seat's against an opponent, else the mean over seats."""
    rewards = rollout.normalized_rewards
    if not rewards:
        return 0.0
    if rollout.seat is not None:
        return rewards.get(rollout.seat, 0.0)
    return sum(rewards.values()) / len(rewards)


__all__ = ["TIME_CUT", "Evaluation", "ProbeMismatch", "seat_reward"]
