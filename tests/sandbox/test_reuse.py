"""A kept harness process reused session after session (one learn evaluates the same code many times)."""

from __future__ import annotations

from autoharness.envs import make
from autoharness.rollout import play_rollout
from autoharness.sandbox import WorkerPool

from .conftest import TEST_LIMITS

# Plays a fixed legal TicTacToe game (a full-board draw), one move per call.
REPLAY = """
MOVES = ["[4]", "[0]", "[8]", "[2]", "[1]", "[7]", "[6]", "[3]", "[5]"]
CALLS = [0]

def propose_action(obs):
    move = MOVES[CALLS[0] % len(MOVES)]
    CALLS[0] += 1
    return move

def is_legal_action(obs, action):
    return True
"""


def test_one_harness_reused_in_hundreds_of_sessions_keeps_loading() -> None:
    """Park and thaw replies are not waited for; if they were never read, they filled the control socket
    after ~140 sessions and the zygote stalled: the next load timed out (seen in bench_sandbox)."""
    with WorkerPool(1, limits=TEST_LIMITS) as pool:
        for i in range(400):
            with pool.session(REPLAY, "policy") as session:
                rollout = play_rollout(make("TicTacToe-v0"), session, "policy", 0, max_steps=9)
            assert rollout.first_failure is None, (i, rollout.first_failure)
            assert len(rollout.steps) == 9
        assert [w.spawns for w in pool._all] == [1]  # the worker was never lost or replaced
