"""The code tree and the schedulers that pick which version to refine next.

Every code version the LLM writes is a ``Node``; refining a node adds a child. A ``Scheduler`` looks at the
nodes and returns the id of the one to refine. Schedulers know nothing about games, code or LLMs, so they
swap freely (REx, Tang et al. 2024: Thompson sampling; greedy and BFS baselines).

Randomness is drawn from ``random.Random(f"{seed}:{step}")``: a pick depends only on the seed, the step and
the tree, never on earlier picks, so a run resumed after a crash makes exactly the picks it would have made.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from .errors import ConfigError


@dataclass(frozen=True, slots=True)
class Node:
    """What a scheduler may see of a code version: heuristic value ``h`` in [0, 1], times refined, depth.

    ``refinable`` is False for a failed child (the reply had no usable code): there is nothing to refine.
    """

    id: int
    parent: int | None
    h: float
    refined: int = 0
    depth: int = 0
    refinable: bool = True


class Scheduler(Protocol):
    """Chooses the next node to refine. ``step`` counts refinements so far (seeds the randomness)."""

    name: str

    def select(self, nodes: Sequence[Node], step: int) -> int: ...


def _candidates(nodes: Sequence[Node]) -> list[Node]:
    pool = [n for n in nodes if n.refinable]
    if not pool:
        raise ValueError("no refinable node in the tree")
    return pool


@dataclass(frozen=True, slots=True)
class ThompsonScheduler:
    """REx: draw θ ~ Beta(1 + C·H, 1 + C·(1 − H) + N) per node, refine the argmax.

    High H pulls a node forward (exploit); every refinement N pushes it back (explore elsewhere). C weighs
    the heuristic against the refinement count; the paper uses C = 1. Ties go to the earlier node.
    """

    c: float = 1.0
    seed: int = 0
    name: str = "thompson"

    def select(self, nodes: Sequence[Node], step: int) -> int:
        rng = random.Random(f"{self.seed}:{step}")
        draws = [
            (rng.betavariate(1 + self.c * n.h, 1 + self.c * (1 - n.h) + n.refined), -n.id)
            for n in _candidates(nodes)
        ]
        return -max(draws)[1]


@dataclass(frozen=True, slots=True)
class GreedyScheduler:
    """Always refine the best node (highest H; fewest refinements, then earliest, break ties)."""

    name: str = "greedy"

    def select(self, nodes: Sequence[Node], step: int) -> int:
        return min(_candidates(nodes), key=lambda n: (-n.h, n.refined, n.id)).id


@dataclass(frozen=True, slots=True)
class BFSScheduler:
    """Breadth-first: refine each node ``branching`` times, shallowest and earliest first."""

    branching: int = 3
    name: str = "bfs"

    def select(self, nodes: Sequence[Node], step: int) -> int:
        pool = _candidates(nodes)
        open_ = [n for n in pool if n.refined < self.branching]
        return min(open_ or pool, key=lambda n: (n.depth, n.refined, n.id)).id


SCHEDULERS = ("thompson", "greedy", "bfs")


def make_scheduler(name: str, *, c: float = 1.0, seed: int = 0, branching: int = 3) -> Scheduler:
    """The scheduler called ``name`` (one of ``SCHEDULERS``)."""
    if name == "thompson":
        return ThompsonScheduler(c=c, seed=seed)
    if name == "greedy":
        return GreedyScheduler()
    if name == "bfs":
        return BFSScheduler(branching=branching)
    raise ConfigError(f"unknown scheduler {name!r}; choose one of {', '.join(SCHEDULERS)}")


def best_node(nodes: Sequence[Node]) -> Node:
    """The winner: highest H among nodes with code, ties to the earlier node (deterministic)."""
    return min(_candidates(nodes), key=lambda n: (-n.h, n.id))


__all__ = [
    "SCHEDULERS",
    "BFSScheduler",
    "GreedyScheduler",
    "Node",
    "Scheduler",
    "ThompsonScheduler",
    "best_node",
    "make_scheduler",
]
