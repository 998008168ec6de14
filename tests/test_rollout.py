"""play_rollout on real TextArena games, one test per verdict of the per-mode semantics."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from autoharness.envs import make
from autoharness.rollout import StepVerdict, play_rollout
from autoharness.sandbox import FailureKind, WorkerPool

FREE_CELLS = """
import re

def free(obs):
    board = obs.rsplit("Current Board", 1)[-1]
    return [c for c in re.findall(r"\\b([0-8])\\b", board)]
"""


def harness(propose: str, checker: str, listed: str = "free(obs)") -> str:
    return FREE_CELLS + (
        f"\ndef propose_action(obs):\n    return {propose}\n"
        f"\ndef is_legal_action(obs, action):\n    return {checker}\n"
        f"\ndef legal_actions(obs):\n    return {listed}\n"
    )


GOOD = harness(
    "'[' + free(obs)[0] + ']'", "action.strip('[]') in free(obs)", "['[' + c + ']' for c in free(obs)]"
)


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    with WorkerPool(1) as p:
        yield p


def rollout(pool: WorkerPool, source: str, mode: str, seed: int = 0, max_steps: int = 1000):
    with pool.session(source, mode) as session:
        assert session.load_failure is None
        return play_rollout(make("TicTacToe-v0"), session, mode, seed, max_steps)


@pytest.mark.parametrize("mode", ["verifier", "filter", "policy"])
def test_correct_harness_plays_every_seat_to_the_end(pool, mode):
    r = rollout(pool, GOOD, mode, seed=3)
    assert r.done and r.first_failure is None and r.legal_steps == len(r.steps) >= 5
    assert [s.player for s in r.steps[:4]] == [0, 1, 0, 1]
    assert r.rewards is not None and set(r.rewards) == {0, 1}
    assert r.normalized_rewards is not None and all(0.0 <= v <= 1.0 for v in r.normalized_rewards.values())
    if mode == "filter":
        assert all(s.listed for s in r.steps)
    if mode == "verifier":
        assert all(s.checker_said is True for s in r.steps)


def test_filter_picks_are_seeded(pool):
    a, b = (rollout(pool, GOOD, "filter", seed=7) for _ in range(2))
    assert [s.action for s in a.steps] == [s.action for s in b.steps]


def test_verifier_checker_that_lets_an_illegal_move_through(pool):
    r = rollout(pool, harness("'[4]'", "True"), "verifier")
    assert [s.verdict for s in r.steps] == [StepVerdict.LEGAL, StepVerdict.CHECKER_WRONG]
    last = r.steps[-1]
    assert last.checker_said is True and last.action == "[4]" and "occupied" in last.env_reason
    assert not r.done and r.rewards is not None  # the env ended the game on the illegal move


def test_verifier_proposer_wrong_when_checker_rightly_refuses(pool):
    r = rollout(pool, harness("'[4]'", "action.strip('[]') in free(obs)"), "verifier")
    assert [s.verdict for s in r.steps] == [StepVerdict.LEGAL, StepVerdict.PROPOSER_WRONG]
    assert r.steps[-1].checker_said is False and r.steps[-1].env_reason
    assert r.rewards is None  # probing happened on a clone: the real game was not touched


def test_verifier_checker_too_strict(pool):
    r = rollout(pool, harness("'[4]'", "False"), "verifier")
    (step,) = r.steps
    assert step.verdict is StepVerdict.CHECKER_TOO_STRICT and step.checker_said is False


def test_policy_illegal_move(pool):
    r = rollout(pool, harness("'[4]'", "True"), "policy")
    assert [s.verdict for s in r.steps] == [StepVerdict.LEGAL, StepVerdict.PROPOSER_WRONG]
    assert "occupied" in r.steps[-1].env_reason


def test_filter_list_wrong_and_empty(pool):
    everything = "['[' + str(i) + ']' for i in range(9)]"
    r = rollout(pool, harness("''", "True", everything), "filter")
    assert r.steps[-1].verdict is StepVerdict.LIST_WRONG and len(r.steps) == 2
    assert r.steps[-1].wrong_listed == (r.steps[0].action,) and len(r.steps[-1].listed) == 9
    r = rollout(pool, harness("''", "True", "[]"), "filter")
    assert [s.verdict for s in r.steps] == [StepVerdict.LIST_EMPTY]


def test_code_failure_stops_the_rollout_with_the_failure(pool):
    r = rollout(pool, harness("'[' + free(obs)[0] + ']' if len(free(obs)) > 7 else 1/0", "True"), "verifier")
    assert [s.verdict for s in r.steps] == [StepVerdict.LEGAL, StepVerdict.LEGAL, StepVerdict.CODE_FAILURE]
    failure = r.steps[-1].failure
    assert failure.kind is FailureKind.EXCEPTION and failure.function == "propose_action"
    assert "ZeroDivisionError" in failure.message and failure.line is not None


def test_step_cap_leaves_the_game_unfinished(pool):
    r = rollout(pool, GOOD, "policy", max_steps=3)
    assert len(r.steps) == 3 and r.legal_steps == 3 and not r.done and r.rewards is None
