"""Schedulers: REx Thompson sampling, greedy, BFS — deterministic, resumable, swappable."""

from __future__ import annotations

from collections import Counter

import pytest

from autoharness.errors import ConfigError
from autoharness.search import (
    BFSScheduler,
    GreedyScheduler,
    Node,
    ThompsonScheduler,
    best_node,
    make_scheduler,
)


def test_thompson_is_a_pure_function_of_seed_step_and_tree():
    nodes = [Node(0, None, 0.3), Node(1, 0, 0.5, depth=1), Node(2, 0, 0.4, depth=1)]
    a = [ThompsonScheduler(seed=7).select(nodes, step) for step in range(50)]
    b = [ThompsonScheduler(seed=7).select(nodes, step) for step in reversed(range(50))][::-1]
    assert a == b
    assert a != [ThompsonScheduler(seed=8).select(nodes, step) for step in range(50)]


def test_thompson_prefers_high_h_and_explores_refined_nodes_less():
    sched = ThompsonScheduler(c=1.0, seed=0)
    picks = Counter(sched.select([Node(0, None, 0.1), Node(1, 0, 0.9)], s) for s in range(2000))
    assert picks[1] > picks[0] * 1.5
    # Refining node 1 many times (N) pushes its Beta down: node 0 now wins most draws.
    picks = Counter(sched.select([Node(0, None, 0.1), Node(1, 0, 0.9, refined=30)], s) for s in range(2000))
    assert picks[0] > picks[1]


def test_thompson_weight_sharpens_preference():
    nodes = [Node(0, None, 0.4), Node(1, 0, 0.6)]
    weak = Counter(ThompsonScheduler(c=1.0).select(nodes, s) for s in range(3000))[1]
    strong = Counter(ThompsonScheduler(c=50.0).select(nodes, s) for s in range(3000))[1]
    assert strong > weak


def test_failed_children_are_never_selected_or_best():
    nodes = [Node(0, None, 0.2), Node(1, 0, 0.0, refinable=False)]
    for sched in (ThompsonScheduler(), GreedyScheduler(), BFSScheduler()):
        assert {sched.select(nodes, s) for s in range(100)} == {0}
    assert best_node(nodes).id == 0
    with pytest.raises(ValueError, match=r"^no refinable node in the tree$"):
        ThompsonScheduler().select([Node(0, None, 0.0, refinable=False)], 0)


def test_greedy_picks_best_then_least_refined():
    nodes = [Node(0, None, 0.5), Node(1, 0, 0.8, refined=2), Node(2, 0, 0.8, depth=1)]
    assert GreedyScheduler().select(nodes, 0) == 2


def test_bfs_walks_level_by_level():
    sched = BFSScheduler(branching=2)
    assert sched.select([Node(0, None, 0.0, refined=1), Node(1, 0, 0.9, depth=1)], 0) == 0
    nodes = [Node(0, None, 0.0, refined=2), Node(1, 0, 0.1, depth=1), Node(2, 0, 0.9, depth=1)]
    assert sched.select(nodes, 0) == 1


def test_best_node_breaks_ties_by_earlier_id():
    assert best_node([Node(3, None, 1.0), Node(1, None, 1.0), Node(2, None, 0.9)]).id == 1


def test_make_scheduler_names():
    assert make_scheduler("thompson", c=2.0, seed=3) == ThompsonScheduler(c=2.0, seed=3)
    assert make_scheduler("bfs", branching=4) == BFSScheduler(branching=4)
    assert make_scheduler("greedy") == GreedyScheduler()
    with pytest.raises(ConfigError, match=r"^unknown scheduler 'mcts'; choose one of thompson, greedy, bfs$"):
        make_scheduler("mcts")


def test_thompson_weight_scales_both_beta_parameters():
    # C weighs H against the refinement count N: θ ~ Beta(1 + C·H, 1 + C·(1 − H) + N) has mean ≈ H when C ≫ N,
    # so a good node refined 10 times still beats an untried mediocre one...
    nodes = [Node(0, None, 0.9, refined=10), Node(1, 0, 0.5, depth=1)]
    picks = Counter(ThompsonScheduler(c=100.0).select(nodes, s) for s in range(500))
    assert picks[0] > 0.95 * 500
    # ...while with C = 1 the ten refinements dominate: θ of node 0 has mean 1.9 / 13 ≈ 0.15.
    picks = Counter(ThompsonScheduler(c=1.0).select(nodes, s) for s in range(500))
    assert picks[1] > 0.8 * 500
    # Both parameters scale with C: a node at H = 0.5 and C = 100 draws θ ≈ 0.5 (Beta(51, 51), sd 0.05),
    # so it loses to a fresh node at H = 0.7 far more often than a 1 + (1 − H) second parameter would allow.
    nodes = [Node(0, None, 0.5), Node(1, 0, 0.7, refined=3)]
    picks = Counter(ThompsonScheduler(c=100.0).select(nodes, s) for s in range(500))
    assert picks[1] > 0.95 * 500


def test_thompson_draws_from_exactly_beta_1_plus_c_h_and_1_plus_c_1_minus_h_plus_n():
    # H = 0, C = 1: node 0 (N = 0) draws from Beta(1, 2), node 1 (N = 1) from Beta(1, 3), and
    # P(Beta(1, 2) > Beta(1, 3)) = ∫ (1 − y)² · 3(1 − y)² dy = 3/5. A prior of 2 instead of 1 in either
    # parameter, or 2 − H for 1 − H, moves it to 0.63 or 0.57 (far outside ±0.012 over 20,000 draws).
    nodes = [Node(0, None, 0.0), Node(1, 0, 0.0, refined=1, depth=1)]
    picks = Counter(ThompsonScheduler(c=1.0, seed=5).select(nodes, s) for s in range(20_000))
    assert picks[0] / 20_000 == pytest.approx(0.6, abs=0.012)
