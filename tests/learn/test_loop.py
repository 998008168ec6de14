"""The learning loop on real TicTacToe-v0 games, sandboxed workers, and a scripted LLM (a plain function)."""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from autoharness.learn.config import LearnConfig
from autoharness.learn.loop import LLM_CACHE, learn
from autoharness.llm import MeteredClient, ResponseCache, export_transcript, make_client
from autoharness.llm.base import Message
from tests.fakes import ScriptedLLM
from tests.learn.tictactoe import GOOD, LAX, LAX_CHECKER_GOOD_PROPOSER, STRICT, STUCK_PROPOSER
from tests.run_store import nodes

GAME = "TicTacToe-v0"
FAST = {"n_envs": 4, "parallelism": 2}


def sequence(*replies: str) -> Callable[[list[Message]], str]:
    it = iter(replies)
    return lambda messages: next(it)


def _tree(run_dir: Path) -> list[tuple]:
    return nodes(run_dir, "id, parent, kind, code, h, feedback")


def _checker(code: str) -> str:
    tree = ast.parse(code)
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "is_legal_action")
    return ast.get_source_segment(code, node) or ""


def test_buggy_then_correct_reaches_full_legality_in_two_iterations(tmp_path):
    llm = ScriptedLLM(sequence(LAX, GOOD))
    result = learn(GAME, LearnConfig(**FAST), llm, tmp_path / "run")
    assert (result.iterations, result.llm_calls, result.best_node, result.legal_rate) == (2, 2, 2, 1.0)
    assert result.stop_reason == "solved"
    second_prompt = llm.requests[1][0][-1]["content"]
    assert "cell 4 is already occupied" in second_prompt  # the env's own reason reached the model
    assert (
        "is_legal_action said: True" in second_prompt and "You are Player 0 in Tic Tac Toe" in second_prompt
    )
    harness = result.harness_path.read_text()
    assert harness.startswith("# Harness learned by autoharness")
    assert (
        f"# game: {GAME}" in harness
        and "# mode: verifier" in harness
        and f"run id: {result.run_id}" in harness
    )
    ast.parse(harness)
    summary = json.loads(result.summary_path.read_text())
    assert {
        k: summary[k] for k in ("game", "mode", "legal_rate", "iterations", "llm_calls", "best_node")
    } == {
        "game": GAME,
        "mode": "verifier",
        "legal_rate": 1.0,
        "iterations": 2,
        "llm_calls": 2,
        "best_node": 2,
    }
    assert summary["tokens"] > 0


def test_proposer_only_refinement_keeps_the_checker_byte_identical(tmp_path):
    llm = ScriptedLLM(sequence(STUCK_PROPOSER, LAX_CHECKER_GOOD_PROPOSER))
    result = learn(GAME, LearnConfig(**FAST), llm, tmp_path / "run")
    (root, child) = _tree(tmp_path / "run")
    assert "Rewrite only propose_action" in llm.requests[1][0][-1]["content"]
    assert child[2] == "refine_proposer"
    assert _checker(child[3]) == _checker(root[3])  # the model's `return True` checker was thrown away
    assert "return True" not in child[3]
    assert result.legal_rate == 1.0 and result.iterations == 2


def test_reply_without_code_is_a_failed_node_and_the_run_goes_on(tmp_path):
    llm = ScriptedLLM(sequence("Sorry, I can't write code for that.", GOOD))
    result = learn(GAME, LearnConfig(**FAST), llm, tmp_path / "run")
    failed, good = _tree(tmp_path / "run")
    assert failed[3] is None and failed[4] == 0.0 and failed[2] == "root:bad_reply"
    assert "contains no Python code" in failed[5]
    assert good[1] is None  # nothing to refine yet: the root prompt is asked again
    assert result.best_node == good[0] and result.legal_rate == 1.0


def test_budget_of_llm_calls_stops_the_run_with_the_best_node(tmp_path):
    llm = ScriptedLLM(lambda messages: LAX)
    config = LearnConfig(max_llm_calls=3, explore=0.0, **FAST)  # the paper's rollouts: LAX fails on move 2
    result = learn(GAME, config, llm, tmp_path / "run")
    assert llm.calls == 3 and result.iterations == 3
    assert result.stop_reason.startswith("budget: LLM calls 3")
    assert result.best_node == 1  # equal H everywhere: the earliest node wins
    assert result.legal_rate == 0.5


@pytest.mark.parametrize(
    ("probe", "explore", "iterations"), [(True, 0.0, 2), (False, 0.0, 1), (False, 0.3, 2), (True, 0.3, 2)]
)
def test_probing_or_exploration_catches_an_over_strict_checker(tmp_path, probe, explore, iterations):
    """STRICT rejects cells 7 and 8, which its first-free proposer never reaches in self-play: only the
    paper's loop (no probing, no exploration) takes it for solved."""
    llm = ScriptedLLM(sequence(STRICT, GOOD))
    result = learn(GAME, LearnConfig(probe=probe, explore=explore, **FAST), llm, tmp_path / "run")
    assert result.iterations == iterations and result.legal_rate == 1.0 and result.h == 1.0
    if iterations == 2:
        assert "is_legal_action rejected a move the game accepts" in llm.requests[1][0][-1]["content"]


def test_replayed_run_builds_the_same_tree(tmp_path):
    recorded = tmp_path / "recorded"
    client = MeteredClient(
        ScriptedLLM(sequence(LAX, STUCK_PROPOSER, GOOD)), cache=ResponseCache(recorded / LLM_CACHE)
    )
    first = learn(GAME, LearnConfig(**FAST), client, recorded)
    transcript = tmp_path / "t.jsonl"
    export_transcript(recorded / LLM_CACHE, transcript)
    replayed = learn(GAME, LearnConfig(**FAST), make_client(f"replay:{transcript}"), tmp_path / "replayed")
    assert _tree(recorded) == _tree(tmp_path / "replayed")
    assert (first.best_node, first.iterations) == (replayed.best_node, replayed.iterations)


def _code(reply: str) -> str:
    return reply.split("```python\n", 1)[1].rsplit("```", 1)[0]


def test_a_given_harness_is_the_root_and_costs_no_llm_call_when_it_already_works(tmp_path):
    llm = ScriptedLLM(sequence())  # any call would raise StopIteration
    result = learn(GAME, LearnConfig(**FAST), llm, tmp_path / "run", initial_code=_code(GOOD))
    assert (result.llm_calls, result.iterations, result.legal_rate, result.stop_reason) == (
        0,
        1,
        1.0,
        "solved",
    )
    assert [row[2] for row in _tree(tmp_path / "run")] == ["given"]


def test_a_given_harness_that_falls_short_is_refined_not_rewritten(tmp_path):
    llm = ScriptedLLM(sequence(GOOD))
    result = learn(GAME, LearnConfig(**FAST), llm, tmp_path / "run", initial_code=_code(LAX))
    tree = _tree(tmp_path / "run")
    assert [(row[1], row[2]) for row in tree] == [(None, "given"), (1, "refine_both")]
    assert result.llm_calls == 1 and result.legal_rate == 1.0
    assert "# Current harness" in llm.requests[0][0][-1]["content"]  # the refine prompt, with LAX's code


def test_the_wall_clock_budget_cuts_an_evaluation_that_would_overrun_it(tmp_path):
    # a correct harness that thinks 0.4 s per move: one evaluation (2 games of up to 9 plies) takes ≥ 7 s
    slow = GOOD.replace(
        "def propose_action(obs):", "def propose_action(obs):\n    import time\n    time.sleep(0.4)"
    )
    assert slow != GOOD
    config = LearnConfig(n_envs=2, parallelism=1, max_wall_seconds=1.0, max_iterations=4)
    result = learn("TicTacToe-v0", config, ScriptedLLM(lambda _: slow), tmp_path / "run")
    assert result.stop_reason.startswith("budget: wall seconds") and result.iterations == 1
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    h, evaluation, feedback = nodes(tmp_path / "run", "h, evaluation, feedback")[0]
    assert (
        h == 0.0
        and json.loads(evaluation)["out_of_time"] is True
        and "cut by the run's wall-clock budget" in feedback
    )
    assert summary["h"] == 0.0
