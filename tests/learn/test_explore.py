"""Exploration in verifier-mode training rollouts, through the evaluator and the critic (real TicTacToe)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from autoharness.learn.config import LearnConfig
from autoharness.learn.critic import critique
from autoharness.learn.evaluator import Evaluator
from autoharness.learn.refiner import child_code
from autoharness.sandbox import WorkerPool
from tests.learn.tictactoe import GOOD, STRICT


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    with WorkerPool(2) as p:
        yield p


def evaluate(pool: WorkerPool, reply: str, **kwargs):
    config = LearnConfig(n_envs=4, **kwargs)
    with Evaluator("TicTacToe-v0", config, pool) as ev:
        return ev.evaluate(child_code(reply, "verifier", "both", None))


def test_probing_replays_explored_rollouts_along_the_moves_played(pool):
    ev = evaluate(pool, GOOD, explore=0.5, probe_states=20, probe_actions=2)
    assert any(s.played is not None for r in ev.rollouts for s in r.steps)
    assert ev.probes == 2 * ev.steps and not ev.mismatches  # every visited state reached and probed
    assert ev.h == 1.0
    feedback = critique(ev)
    assert "were legal" in feedback.text and "follows the move actually played" in feedback.text


def test_feedback_marks_a_move_tried_by_exploration(pool):
    ev = evaluate(pool, STRICT, explore=1.0, probe=False)
    caught = [s for _, s in ev.failed_steps()]
    assert any(s.explored for s in caught)
    text = critique(ev).text
    assert "is_legal_action rejected a move the game accepts" in text
    assert "This move was not proposed by propose_action" in text


def test_without_exploration_the_feedback_does_not_mention_it(pool):
    text = critique(evaluate(pool, GOOD, explore=0.0, probe=False)).text
    assert "explore" not in text and "actually played" not in text
