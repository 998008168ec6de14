"""The sandbox's own failures are the machine's, never the harness's: on real games, a sandbox that cannot
start harness processes (a zygote out of file descriptors, ``tests.starved_sandbox``) stops learning,
verification and evaluation with one clear ``SandboxError`` — no node scored, no load failure fed back to the
model, no disagreement, no forfeit — and the run resumes as if it had not happened.

Before: the refusal came back as the harness's load failure (KILLED, "sandbox could not start the harness
process: ..."): the learner scored the node H 0 and asked the model to fix it, verification reported "the
harness does not load", evaluation played every match with the harness switched off.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from autoharness.cli import main
from autoharness.errors import SandboxError
from autoharness.evaluate import AgentSpec, evaluate
from autoharness.executors import LocalExecutor
from autoharness.learn.config import LearnConfig
from autoharness.learn.loop import LLM_CACHE, learn
from autoharness.llm import MeteredClient, ResponseCache, export_transcript
from autoharness.llm.extract import extract_code
from autoharness.suite import SuiteManifest, run_suite
from autoharness.verify import verify_harness
from tests.fakes import ScriptedLLM
from tests.learn.tictactoe import GOOD
from tests.llm.fake_openai import FakeOpenAIServer
from tests.run_store import nodes
from tests.starved_sandbox import starving, starving_after_first_load
from tests.test_suite import scripted_reply

GAME = "TicTacToe-v0"
CONFIG = LearnConfig(n_envs=4, parallelism=2)
REFUSED = (
    "sandbox could not start the harness process: socketpair failed (Too many open files) (tried 2 times)"
)


def _nodes(run_dir: Path) -> list[tuple]:
    return nodes(run_dir, "id, kind, h")


def test_learning_stops_scores_nothing_and_resumes_to_the_run_it_would_have_been(tmp_path):
    llm = ScriptedLLM(lambda messages: GOOD)
    run = tmp_path / "run"
    with starving(), pytest.raises(SandboxError) as stopped:
        learn(GAME, CONFIG, llm, run)
    assert str(stopped.value) == REFUSED
    assert _nodes(run) == []  # the root was written, but not scored: no H 0, no "could not be loaded"
    result = learn(GAME, CONFIG, llm, run, resume=True)
    assert (result.best_node, result.legal_rate, result.stop_reason) == (1, 1.0, "solved")
    assert _nodes(run) == [(1, "root", 1.0)]
    assert all("could not be loaded" not in str(messages) for messages, _ in llm.requests)


def test_cli_learn_stops_with_one_line_saying_how_to_resume(tmp_path, capsys):
    recorded = tmp_path / "recorded"
    client = MeteredClient(ScriptedLLM(lambda m: GOOD), cache=ResponseCache(recorded / LLM_CACHE))
    learn(GAME, CONFIG, client, recorded)
    transcript = tmp_path / "TicTacToe-v0-verifier.jsonl"
    export_transcript(recorded / LLM_CACHE, transcript)
    argv = ["learn", GAME, "--llm", f"replay:{transcript}", "--out", str(tmp_path / "run")]
    argv += ["--n-envs", "4", "--parallelism", "2"]
    with starving():
        assert main(argv) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"autoharness: SandboxError: {REFUSED} (the run in {tmp_path / 'run'} is kept")
    assert main([*argv, "--resume"]) == 0
    assert "legal rate 1.000" in capsys.readouterr().out


def test_verification_stops_instead_of_reporting_a_harness_that_does_not_load():
    code = extract_code(GOOD)
    with starving(), pytest.raises(SandboxError, match="socketpair failed"):
        verify_harness(GAME, code, positions=20)
    assert verify_harness(GAME, code, positions=20).passed


def test_evaluation_stops_instead_of_playing_with_the_harness_switched_off():
    code = extract_code(GOOD)
    results: list = []
    with starving(), pytest.raises(SandboxError, match="socketpair failed"):
        evaluate(GAME, [AgentSpec("policy")], harness_source=code, matches=2, results=results)
    (result,) = results
    assert result.matches == [] and result.aborted.startswith("SandboxError: sandbox could not start")
    (played,) = evaluate(GAME, [AgentSpec("policy")], harness_source=code, matches=2)
    assert len(played.matches) == 2 and not played.aborted
    assert all(not m.agent["harness_failures"] for m in played.matches)


CRASHES_ON_ITS_FOURTH_MOVE = """
import os, re

moves = 0


def propose_action(obs):
    global moves
    moves += 1
    if moves == 4:
        os._exit(3)
    part = obs.rsplit("Current Board:", 1)[-1]
    rows = [line for line in part.splitlines() if "|" in line][:3]
    free = [c.strip() for row in rows for c in row.split("|") if c.strip().isdigit()]
    return f"[{free[0]}]"


def is_legal_action(obs, action):
    return True
"""


def test_cli_eval_keeps_the_matches_played_before_the_sandbox_failed(tmp_path, capsys):
    """The harness dies in its own match (its failure, counted); starting it again for the next match is
    refused: the evaluation stops there, one line, the finished matches saved and marked stopped early."""
    harness = tmp_path / "harness.py"
    harness.write_text(CRASHES_ON_ITS_FOURTH_MOVE)
    out = tmp_path / "eval"
    argv = ["eval", GAME, "--agent", "policy", "--harness", str(harness), "--matches", "6", "--out", str(out)]
    with starving_after_first_load():
        assert main(argv) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"autoharness: SandboxError: {REFUSED}; the ")
    assert line.endswith(
        "marked stopped early (an eval has no --resume: run the same command again for the whole protocol)"
    )
    (saved,) = json.loads((out / "eval.json").read_text())["results"]
    assert saved["aborted"] == f"SandboxError: {REFUSED}"
    played = saved["match_records"]
    assert 1 <= len(played) < 6 and saved["matches"] == len(played)
    assert played[-1]["agent"]["harness_failures"] == [
        "killed in propose_action: harness process exited with status 3"
    ]


SUITE_WITH_A_STARVED_SANDBOX = """
import sys
from pathlib import Path
from autoharness.executors import LocalExecutor
from autoharness.suite import WORKER_PRELOAD, SuiteConfig, run_suite
from tests.test_suite import LEARN

out, base_url = sys.argv[1:]
config = SuiteConfig(games=["TicTacToe-v0"], learn=LEARN, llm="fake-model", base_url=base_url)
executor = LocalExecutor(1, preload=("tests.starved_sandbox_everywhere", *WORKER_PRELOAD))
try:
    run_suite(Path(out), executor, config=config)
finally:
    executor.close()
"""


def test_a_suite_game_the_sandbox_stopped_is_an_error_that_a_plain_resume_runs_again(tmp_path, monkeypatch):
    """In a process of its own: the starved sandbox must reach the suite's workers (a fork server preload)."""
    monkeypatch.setenv("AUTOHARNESS_BUILTIN_DIR", str(tmp_path / "no-builtin"))  # learn, do not replay
    out = tmp_path / "suite"
    with FakeOpenAIServer(scripted_reply) as server:
        cmd = [sys.executable, "-c", SUITE_WITH_A_STARVED_SANDBOX, str(out), server.base_url]
        subprocess.run(cmd, check=True, cwd=Path(__file__).parents[1], timeout=300)
        record = SuiteManifest.load(out).games[GAME]
        assert record["status"] == "failed"
        assert record["error"] == {"kind": "exception", "type": "SandboxError", "message": REFUSED}
        executor = LocalExecutor(1)
        try:
            resumed = run_suite(out, executor, resume=True)  # no --retry-failed: the machine failed, not it
        finally:
            executor.close()
    record = resumed.games[GAME]
    assert record["status"] == "done" and record["attempts"] == 2
    assert record["result"]["learned"]["legal_rate"] == 1.0
