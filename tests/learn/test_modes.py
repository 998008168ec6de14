"""Filter and policy mode learn on real games too (verifier mode: test_loop)."""

from __future__ import annotations

import json

from autoharness.learn.config import LearnConfig
from autoharness.learn.loop import learn
from tests.fakes import ScriptedLLM
from tests.learn.test_loop import sequence
from tests.learn.tictactoe import FILTER_ALL, FILTER_GOOD, FILTER_SHORT, GOOD, STUCK_PROPOSER

FAST = {"n_envs": 4, "parallelism": 2}


def test_filter_mode_fixes_a_list_with_taken_cells(tmp_path):
    llm = ScriptedLLM(sequence(FILTER_ALL, FILTER_GOOD))
    result = learn("TicTacToe-v0", LearnConfig(mode="filter", **FAST), llm, tmp_path / "run")
    prompt = llm.requests[1][0][-1]["content"]
    assert "legal_actions listed moves the game rejects" in prompt and "def legal_actions" in prompt
    assert (result.iterations, result.legal_rate, result.h) == (2, 1.0, 1.0)


def test_filter_mode_probing_finds_moves_missing_from_the_list(tmp_path):
    no_probe = learn(
        "TicTacToe-v0",
        LearnConfig(mode="filter", probe=False, **FAST),
        ScriptedLLM(sequence(FILTER_SHORT)),
        tmp_path / "a",
    )
    assert (no_probe.iterations, no_probe.h) == (1, 1.0)  # the short list looks perfect without probing
    llm = ScriptedLLM(sequence(FILTER_SHORT, FILTER_GOOD))
    probed = learn("TicTacToe-v0", LearnConfig(mode="filter", **FAST), llm, tmp_path / "b")
    assert "legal_actions left out a move the game accepts" in llm.requests[1][0][-1]["content"]
    assert (probed.iterations, probed.h) == (2, 1.0)


def test_policy_mode_scores_illegal_play_zero_and_then_asks_for_better_play(tmp_path):
    llm = ScriptedLLM(sequence(STUCK_PROPOSER, GOOD, GOOD))
    config = LearnConfig(mode="policy", max_iterations=3, scheduler="greedy", **FAST)
    result = learn("TicTacToe-v0", config, llm, tmp_path / "run")
    prompts = [messages[-1]["content"] for messages, _ in llm.requests]
    assert "propose_action proposed an illegal move" in prompts[1]
    assert "one seat per game (first and second in turn) against a random player" in prompts[2]
    assert "Mean normalised reward: 0.750" in prompts[2] and "Improve the harness" in prompts[2]
    tree = {n["id"]: n["h"] for n in json.loads(result.summary_path.read_text())["tree"]}
    # One seat per game vs a seeded random player (TicTacToe has a legal-move oracle): first-free wins 3
    # of the 4 training games, loses 1 → mean normalised reward 0.75 → H = 0.875 (self-play capped at 0.75).
    assert tree == {1: 0.0, 2: 0.875, 3: 0.875}
    assert result.best_node == 2 and result.stop_reason.startswith("budget: iterations 3")
