"""The critic: every branch of conditional refinement, the failure limit, and what the feedback text shows.

Real TicTacToe evaluations (sandboxed harnesses on the real game) cover the cases a harness produces on its
own; hand-built evaluations (plain data: the critic's input) cover combinations no single small harness
produces on demand — mixed failure kinds across rollouts, more distinct failures than the limit.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from autoharness.learn.config import LearnConfig
from autoharness.learn.critic import BOTH, OBS_CHARS, PROPOSER, critique
from autoharness.learn.evaluation import Evaluation, ProbeMismatch
from autoharness.learn.evaluator import Evaluator
from autoharness.learn.refiner import child_code
from autoharness.rollout import Rollout, StepRecord, StepVerdict
from autoharness.sandbox import WorkerPool
from autoharness.sandbox.contract import StaticIssue
from autoharness.sandbox.failures import FailureKind, HarnessFailure
from autoharness.sandbox.pool import VERIFY_FUNCTIONS
from tests.learn.tictactoe import _FREE, CORRECT_CHECKER, FIRST_FREE, GOOD, LAX, STUCK_PROPOSER, reply

CRASHING_CHECKER = reply(
    _FREE
    + FIRST_FREE
    + """

def is_legal_action(obs, action):
    raise RuntimeError("checker broke")
"""
)
CRASHING_PROPOSER = reply(
    _FREE
    + CORRECT_CHECKER
    + """

def propose_action(obs):
    raise RuntimeError("proposer broke")
"""
)


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    with WorkerPool(2) as p:
        yield p


def evaluate(pool: WorkerPool, answer: str, mode: str = "verifier") -> Evaluation:
    config = LearnConfig(mode=mode, n_envs=3, probe=False, explore=0.0)
    with Evaluator("TicTacToe-v0", config, pool) as ev:
        return ev.evaluate(child_code(answer, mode, "both", None))


# --- real games ---------------------------------------------------------------------------------------------


def test_a_wrong_proposer_behind_a_right_checker_refines_the_proposer_only(pool):
    ev = evaluate(pool, STUCK_PROPOSER)
    assert {s.verdict for _, s in ev.failed_steps()} == {StepVerdict.PROPOSER_WRONG}
    fb = critique(ev)
    assert fb.kind == PROPOSER
    assert fb.failures == 3  # one failed step per rollout
    assert "propose_action proposed an illegal move" in fb.text
    assert "Action: '[4]'" in fb.text and "is_legal_action said: False" in fb.text


def test_a_checker_letting_an_illegal_move_through_refines_both(pool):
    ev = evaluate(pool, LAX)
    assert {s.verdict for _, s in ev.failed_steps()} == {StepVerdict.CHECKER_WRONG}
    fb = critique(ev)
    assert fb.kind == BOTH
    assert "is_legal_action said the move was legal, but the game rejected it" in fb.text
    assert "is_legal_action said: True" in fb.text and "The game said: illegal" in fb.text


def test_a_crashing_checker_refines_both_or_it_would_stay_broken_forever(pool):
    ev = evaluate(pool, CRASHING_CHECKER)
    steps = [s for _, s in ev.failed_steps()]
    assert steps and all(s.verdict is StepVerdict.CODE_FAILURE for s in steps)
    assert {s.failure.function for s in steps} == {"is_legal_action"}
    fb = critique(ev)
    assert fb.kind == BOTH
    assert "the harness code failed" in fb.text and "checker broke" in fb.text and "Traceback:" in fb.text


def test_a_crashing_proposer_refines_the_proposer_only(pool):
    ev = evaluate(pool, CRASHING_PROPOSER)
    assert {s.failure.function for _, s in ev.failed_steps()} == {"propose_action"}
    fb = critique(ev)
    assert fb.kind == PROPOSER and "proposer broke" in fb.text


def test_policy_mode_always_rewrites_the_whole_harness(pool):
    ev = evaluate(pool, STUCK_PROPOSER, mode="policy")
    assert {s.verdict for _, s in ev.failed_steps()} == {StepVerdict.PROPOSER_WRONG}
    assert critique(ev).kind == BOTH  # the checker is never consulted in policy mode


def test_a_clean_verifier_evaluation_says_every_step_was_legal(pool):
    ev = evaluate(pool, GOOD)
    fb = critique(ev)
    assert fb.failures == 0 and fb.kind == BOTH
    assert fb.text == f"All {ev.steps} steps in 3 games were legal."


FIFTEEN_LOOP = """
def propose_action(obs):
    board = obs.rsplit("Current Board:", 1)[-1].strip().splitlines()
    row = next(i for i, line in enumerate(board) if "__" in line)
    return "[down]" if row > 0 else "[up]"


def is_legal_action(obs, action):
    return True
"""
"""A legal FifteenPuzzle policy that slides the same tile back and forth: a loop, cut by a 30-step cap."""


def test_policy_feedback_says_why_per_game_with_cuts_loops_and_the_worst_game(pool):
    config = LearnConfig(mode="policy", n_envs=2, max_steps=30)
    with Evaluator("FifteenPuzzle-v0", config, pool) as evaluator:
        ev = evaluator.evaluate(FIFTEEN_LOOP)
    fb = critique(ev)
    text = fb.text
    assert fb.failures == 0 and "2 cut at the step cap" in text and "reached the end" not in text
    assert text.count("cut at the step cap (not a loss") == 2 + 2  # per-game lines + the two worst games
    assert "- seed 0: 30 steps" in text and "- seed 1: 30 steps" in text
    assert "steps repeated a position seen earlier in this game (a loop)" in text
    assert "### Worst game 1" in text and "### Worst game 2" in text and "Its move: '[" in text
    assert "Current Board:" in text.split("### Worst game 1")[1]  # the final observation itself
    assert "loss" not in text.replace("not a loss", "")
    assert len(text) < 2 * (OBS_CHARS + 1500) + 2000  # the legality feedback's size limits


def test_policy_feedback_quotes_the_games_own_final_message(pool):
    ev = evaluate(pool, GOOD, mode="policy")
    text = critique(ev).text
    assert "3 reached the end of the game" in text and "Per game:" in text
    ends = {r.end_message for r in ev.rollouts}
    assert ends and None not in ends and all(f"the game said: {m}" in text for m in ends)


# --- hand-built evaluations ---------------------------------------------------------------------------------


def step(verdict: StepVerdict, action: str, index: int = 0, **extra) -> StepRecord:
    return StepRecord(index, 0, f"board before {action}", action, verdict, **extra)


def proposer_wrong(action: str) -> StepRecord:
    return step(StepVerdict.PROPOSER_WRONG, action, checker_said=False, env_reason="cell taken")


def checker_wrong(action: str) -> StepRecord:
    return step(StepVerdict.CHECKER_WRONG, action, checker_said=True, env_reason="cell taken")


def crash(function: str) -> StepRecord:
    failure = HarnessFailure(FailureKind.EXCEPTION, "boom", function, 3, "Traceback: line 3")
    return step(StepVerdict.CODE_FAILURE, "[1]", failure=failure)


def made(mode: str, *failed: StepRecord, mismatches: tuple[ProbeMismatch, ...] = ()) -> Evaluation:
    """One rollout per failed step (a legal first move, then the failure), seeds 0, 1, ..."""
    rollouts = [
        Rollout("TicTacToe-v0", seed, mode, [step(StepVerdict.LEGAL, "[0]"), f])
        for seed, f in enumerate(failed)
    ]
    return Evaluation(mode=mode, rollouts=rollouts, mismatches=list(mismatches), probes=len(mismatches) * 4)


def test_mixed_checker_and_proposer_failures_refine_both():
    assert critique(made("verifier", proposer_wrong("[4]"), proposer_wrong("[5]"))).kind == PROPOSER
    assert critique(made("verifier", proposer_wrong("[4]"), checker_wrong("[5]"))).kind == BOTH
    assert critique(made("verifier", checker_wrong("[5]"), proposer_wrong("[4]"))).kind == BOTH


@pytest.mark.parametrize("function", ["is_legal_action", VERIFY_FUNCTIONS])
def test_a_checker_crash_among_proposer_failures_refines_both(function):
    assert critique(made("verifier", proposer_wrong("[4]"), crash(function))).kind == BOTH
    assert critique(made("verifier", proposer_wrong("[4]"), crash("propose_action"))).kind == PROPOSER


def test_a_too_strict_checker_refines_both():
    too_strict = step(StepVerdict.CHECKER_TOO_STRICT, "[7]", checker_said=False)
    fb = critique(made("verifier", proposer_wrong("[4]"), too_strict))
    assert fb.kind == BOTH
    assert "is_legal_action rejected a move the game accepts" in fb.text
    assert "The game accepts this move (checked on a copy of the game)." in fb.text


def test_a_probe_mismatch_refines_both_even_when_every_step_was_the_proposers():
    mismatch = ProbeMismatch(1, 2, 0, "board", "[7]", checker_said=False, env_legal=True)
    fb = critique(made("verifier", proposer_wrong("[4]"), mismatches=(mismatch,)))
    assert fb.kind == BOTH and fb.failures == 2
    assert "is_legal_action rejected a move the game accepts (found by probing" in fb.text
    assert "1 of 4 probed actions judged wrongly" in fb.text


@pytest.mark.parametrize("mode", ["filter", "policy"])
def test_filter_and_policy_mode_never_give_proposer_only_refinement(mode):
    ev = made(mode, proposer_wrong("[4]"), crash("propose_action"))
    assert critique(ev).kind == BOTH


def test_a_harness_that_does_not_load_refines_both():
    ev = Evaluation(mode="verifier", load_failure=HarnessFailure(FailureKind.EXCEPTION, "at import"))
    fb = critique(ev)
    assert fb.kind == BOTH and fb.failures == 1
    assert fb.text.startswith("The harness could not be loaded.\nCode failure: exception: at import")
    issue = StaticIssue("missing_function", "propose_action is not defined")
    fb = critique(Evaluation(mode="verifier", static_issues=[issue]))
    assert fb.kind == BOTH and fb.text == f"The harness cannot be used as written:\n- {issue.describe()}"


def test_at_most_five_failures_are_shown_and_all_are_counted():
    ev = made("verifier", *(proposer_wrong(f"[{i}]") for i in range(7)))
    fb = critique(ev)
    assert fb.failures == 7
    assert fb.text.count("### Problem") == 5 and "### Problem 5\n" in fb.text
    assert "7 problem(s) found (7 distinct); 5 shown." in fb.text
    assert "Action: '[4]'" in fb.text and "Action: '[5]'" not in fb.text
    fb = critique(ev, limit=2)
    assert fb.text.count("### Problem") == 2 and "7 problem(s) found (7 distinct); 2 shown." in fb.text


def test_duplicates_are_dropped_and_kinds_are_shown_in_turn():
    ev = made(
        "verifier",
        *(proposer_wrong("[4]") for _ in range(6)),
        proposer_wrong("[5]"),
        proposer_wrong("[6]"),
        checker_wrong("[8]"),
    )
    fb = critique(ev, limit=2)
    assert "9 problem(s) found (4 distinct); 2 shown." in fb.text
    # Round-robin over kinds: the lone checker failure is not hidden behind the frequent proposer ones.
    assert "Action: '[4]'" in fb.text and "Action: '[8]'" in fb.text and "Action: '[5]'" not in fb.text
    assert fb.kind == BOTH


def test_long_actions_and_long_lists_are_cut_in_the_critics_text(pool):
    import time

    from autoharness.envs import make
    from autoharness.rollout import play_rollout

    # 1,000 listed moves of 997 characters (both at the contract's caps): 1 MB of harness output
    src = "def propose_action(obs):\n    return '[4]'\ndef is_legal_action(obs, action):\n    return True\n"
    src += "def legal_actions(obs):\n    return [f'[z{i:04d}]' + 'x' * 990 for i in range(1000)]\n"
    env = make("TicTacToe-v0")
    with pool.session(src, "filter") as s:
        start = time.process_time()
        r = play_rollout(env, s, "filter", 0)
        assert time.process_time() - start < 10  # probing each listed move once is bounded by the caps
    assert r.steps[0].verdict is StepVerdict.LIST_WRONG and len(r.steps[0].wrong_listed) == 1000
    text = critique(Evaluation(mode="filter", rollouts=[r])).text
    assert len(text) < 40_000  # 2 MB before
    assert "... and 940 more (cut: 1000 in all)" in text and "(cut: 997 characters in all)" in text


def test_a_clean_policy_evaluation_reports_the_reward_against_a_random_player(pool):
    ev = evaluate(pool, GOOD, mode="policy")
    assert ev.opponent == "random" and not ev.failed_steps()
    fb = critique(ev)
    finished = sum(r.done for r in ev.rollouts)
    assert fb.kind == BOTH and fb.failures == 0
    assert fb.text.startswith(
        "Your code played one seat per game (first and second in turn) against a random player. "
        f"No illegal move and no code failure in 3 games ({ev.steps} steps)"
    )
    assert (
        f"{finished} reached the end of the game. Mean normalised reward: {ev.reward:.3f} (1 = best)"
        in fb.text
    )
    assert "Improve propose_action's play to win more, keeping every move legal." in fb.text


def _mismatch(**fields) -> ProbeMismatch:
    base = {"seed": 4, "step": 2, "player": 1, "observation": "the board", "action": "[7]"}
    return ProbeMismatch(**(base | fields))


@pytest.mark.parametrize(
    ("mode", "mismatch", "expected"),
    [
        (
            "verifier",
            _mismatch(checker_said=False, env_legal=True),
            "Game seed 4, step 2, player 1: is_legal_action rejected a move the game accepts (found by "
            "probing a copy of the game).\nObservation:\nthe board\nAction: '[7]'\n"
            "is_legal_action said: False\n"
            "The game accepts this move.",
        ),
        (
            "verifier",
            _mismatch(checker_said=True, env_legal=False, env_reason="cell 7 is taken"),
            "Game seed 4, step 2, player 1: is_legal_action accepted a move the game rejects (found by "
            "probing a copy of the game).\nObservation:\nthe board\nAction: '[7]'\n"
            "is_legal_action said: True\n"
            "The game said: illegal — cell 7 is taken",
        ),
        (
            "verifier",
            _mismatch(checker_said=True, env_legal=False),
            "Game seed 4, step 2, player 1: is_legal_action accepted a move the game rejects (found by "
            "probing a copy of the game).\nObservation:\nthe board\nAction: '[7]'\n"
            "is_legal_action said: True\n"
            "The game said: illegal — (no reason)",
        ),
        (
            "filter",
            _mismatch(checker_said=None, env_legal=True),
            "Game seed 4, step 2, player 1: legal_actions left out a move the game accepts (found by probing "
            "a copy of the game).\nObservation:\nthe board\nAction: '[7]'\nThe game accepts this move.",
        ),
        (
            "verifier",
            _mismatch(
                checker_said=None,
                env_legal=True,
                failure=HarnessFailure(FailureKind.EXCEPTION, "boom", "is_legal_action", 3, "Traceback: x"),
            ),
            "Game seed 4, step 2, player 1: is_legal_action failed on an action probed at this state.\n"
            "Observation:\nthe board\nAction: '[7]'\nThe game accepts this move.\n"
            "Code failure: exception in is_legal_action (line 3): boom\nTraceback:\nTraceback: x",
        ),
    ],
)
def test_each_kind_of_probe_mismatch_is_described_exactly(mode, mismatch, expected):
    ev = Evaluation(mode=mode, rollouts=[Rollout("TicTacToe-v0", 0, mode, [step(StepVerdict.LEGAL, "[0]")])])
    ev.mismatches, ev.probes = [mismatch], 8
    fb = critique(ev)
    assert fb.kind == BOTH and fb.failures == 1
    assert fb.text == (
        "Legal-step rate 1.000 over 1 games (1 steps); 1 of 8 probed actions judged wrongly. "
        f"1 problem(s) found (1 distinct); 1 shown.\n\n### Problem 1\n{expected}"
    )
