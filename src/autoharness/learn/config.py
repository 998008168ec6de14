"""``LearnConfig``: the single source of every learning default (the CLI's flags are generated from it)."""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from ..search import SCHEDULERS

MODES = ("verifier", "filter", "policy")

TRAIN_SEED_STRIDE = 1000
"""Training rollouts of run seed ``s`` use env seeds ``s*1000 … s*1000 + n_envs − 1`` (all below 1,000,000).
Evaluation (``autoharness.evaluate``) uses seeds ≥ ``EVAL_SEED_START``, so the two never overlap."""
EVAL_SEED_START = 1_000_000

ADDED_LATER: dict[str, Any] = {"explore": 0.0}
"""Fields added after runs were first stored, with the value such a run had: resuming a stored run whose
config lacks them keeps its behaviour (it ran without exploration) instead of taking today's default."""


VERIFY_POSITIONS = 2000
VERIFY_POSITIONS_ENV = "AUTOHARNESS_VERIFY_POSITIONS"
"""Overrides the default of ``verify_positions`` (e.g. a quick suite, or the test suite: 0 skips it)."""


def default_verify_positions() -> int:
    """``$AUTOHARNESS_VERIFY_POSITIONS``, else ``VERIFY_POSITIONS``."""
    value = os.environ.get(VERIFY_POSITIONS_ENV, "").strip()
    if not value:
        return VERIFY_POSITIONS
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"${VERIFY_POSITIONS_ENV} must be a whole number, not {value!r}") from None


@dataclass(frozen=True, slots=True)
class LearnConfig:
    """How a harness is learned. Budgets set to ``None`` are unlimited; at least one budget always holds
    (``max_iterations``).

    ``explore`` (verifier mode, beyond the paper): the probability, per step of a training rollout, that after
    the harness's proposal has been judged the rollout plays a different move the game accepts (also judged
    by ``is_legal_action``), so a deterministic proposer on a deterministic game still visits varied states
    across the ``n_envs`` rollouts instead of one line of play repeated. 0 = only the harness's own moves
    (the paper). Seeded per rollout: runs stay deterministic. Semantics in ``autoharness.rollout``.
    """

    mode: str = field(
        default="verifier", metadata={"help": "how the harness is used: verifier|filter|policy"}
    )
    scheduler: str = field(default="thompson", metadata={"help": "tree search: thompson|greedy|bfs"})
    heuristic_weight: float = field(default=1.0, metadata={"help": "REx C in Beta(1+C·H, 1+C·(1−H)+N)"})
    bfs_branching: int = field(default=3, metadata={"help": "children per node for --scheduler bfs"})
    seed: int = field(default=0, metadata={"help": "run seed (0–999): picks training env seeds and sampling"})
    n_envs: int = field(default=10, metadata={"help": "rollouts per evaluation (distinct env seeds)"})
    parallelism: int = field(default=2, metadata={"help": "sandbox workers running rollouts at once"})
    max_steps: int = field(default=1000, metadata={"help": "step cap per rollout"})
    max_iterations: int = field(default=32, metadata={"help": "code versions to write (root included)"})
    max_llm_calls: int | None = field(default=None, metadata={"help": "budget: LLM calls"})
    max_tokens: int | None = field(default=None, metadata={"help": "budget: prompt + completion tokens"})
    max_cost_usd: float | None = field(default=None, metadata={"help": "budget: money (price table)"})
    max_wall_seconds: float | None = field(default=None, metadata={"help": "budget: wall time of the run"})
    eval_seconds: float | None = field(
        default=None,
        metadata={
            "help": "time budget of each evaluation of a code version: games still running then are cut "
            "(reported as cut, their reward left out)"
        },
    )
    target_h: float = field(default=1.0, metadata={"help": "stop when the best H reaches this"})
    probe: bool = field(default=True, metadata={"help": "oracle probing of actions the harness did not play"})
    probe_states: int = field(default=20, metadata={"help": "visited states probed per rollout"})
    probe_actions: int = field(default=8, metadata={"help": "candidate actions probed per state"})
    explore: float = field(
        default=0.3, metadata={"help": "verifier mode: chance per training step to play another legal move"}
    )
    feedback_failures: int = field(default=5, metadata={"help": "failed steps shown to the LLM"})
    verify_positions: int = field(
        default_factory=default_verify_positions,
        metadata={
            "help": f"held-out positions the final harness is verified on, 0 skips (${VERIFY_POSITIONS_ENV})"
        },
    )
    temperature: float = field(default=1.0, metadata={"help": "LLM sampling temperature"})
    max_reply_tokens: int | None = field(default=None, metadata={"help": "LLM max tokens per reply"})

    def __post_init__(self) -> None:
        problems = []
        for f in dataclasses.fields(self):  # NaN passes every bound below (all its comparisons are false)
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                problems.append(f"{f.name} must be a finite number, not {value!r}")
        if self.mode not in MODES:
            problems.append(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.scheduler not in SCHEDULERS:
            problems.append(f"scheduler must be one of {', '.join(SCHEDULERS)}, not {self.scheduler!r}")
        if not 0 <= self.seed < EVAL_SEED_START // TRAIN_SEED_STRIDE:
            problems.append(f"seed must be in 0..{EVAL_SEED_START // TRAIN_SEED_STRIDE - 1}")
        for name in ("n_envs", "parallelism", "max_steps", "bfs_branching", "feedback_failures"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be ≥ 1")
        if self.n_envs > TRAIN_SEED_STRIDE:
            problems.append(f"n_envs must be ≤ {TRAIN_SEED_STRIDE}")
        if self.verify_positions < 0:
            problems.append("verify_positions must be ≥ 0 (0 skips verification)")
        if self.probe_states < 0 or self.probe_actions < 0:
            problems.append("probe_states and probe_actions must be ≥ 0")
        if self.heuristic_weight < 0:
            problems.append("heuristic_weight must be ≥ 0")
        if not 0 <= self.explore <= 1:
            problems.append("explore must be in [0, 1]")
        if not 0 < self.target_h <= 1:
            problems.append("target_h must be in (0, 1]")
        if self.eval_seconds is not None and not self.eval_seconds > 0:
            problems.append("eval_seconds must be > 0")
        for name in ("max_iterations", "max_llm_calls", "max_tokens", "max_cost_usd", "max_wall_seconds"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                problems.append(f"empty budget: {name} must be > 0")
        if problems:
            raise ConfigError("; ".join(problems))

    @property
    def train_seeds(self) -> list[int]:
        """The env seeds every node is evaluated on (common random numbers: nodes compare fairly)."""
        return [self.seed * TRAIN_SEED_STRIDE + i for i in range(self.n_envs)]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LearnConfig:
        """Rebuild a stored config; unknown keys are an error (a run from an incompatible version)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"stored config has unknown fields: {', '.join(unknown)}")
        return cls(**{**ADDED_LATER, **data})


__all__ = [
    "EVAL_SEED_START",
    "MODES",
    "TRAIN_SEED_STRIDE",
    "VERIFY_POSITIONS_ENV",
    "LearnConfig",
    "default_verify_positions",
]
