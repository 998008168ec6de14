"""`autoharness learn`: bad input → one line and exit 2 (nothing lost); replays run end to end."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest

from autoharness.builtin import shipped_transcript
from autoharness.cli import main
from autoharness.learn import command
from autoharness.learn.config import LearnConfig
from autoharness.learn.loop import LLM_CACHE, learn
from autoharness.llm import MeteredClient, ResponseCache, export_transcript
from tests.fakes import ScriptedLLM
from tests.learn.tictactoe import GOOD, LAX
from tests.llm.fake_openai import FakeOpenAIServer, error_reply

FAST = ["--n-envs", "4", "--parallelism", "2"]


@pytest.fixture(scope="module")
def transcript(tmp_path_factory) -> Path:
    """A recorded 2-iteration TicTacToe run (lax checker, then the correct harness), as JSONL."""
    tmp = tmp_path_factory.mktemp("recorded")
    replies = iter([LAX, GOOD])
    client = MeteredClient(ScriptedLLM(lambda m: next(replies)), cache=ResponseCache(tmp / "run" / LLM_CACHE))
    learn("TicTacToe-v0", LearnConfig(n_envs=4, parallelism=2), client, tmp / "run")
    export_transcript(tmp / "run" / LLM_CACHE, tmp / "TicTacToe-v0-verifier.jsonl")
    return tmp / "TicTacToe-v0-verifier.jsonl"


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["learn", "TicTacTo-v0"], "did you mean TicTacToe-v0"),
        (["learn", "TicTacToe-v0", "--max-iterations", "0"], "empty budget: max_iterations"),
        (["learn", "TicTacToe-v0", "--max-tokens", "0", "--llm", "m"], "empty budget: max_tokens"),
        (["learn", "TicTacToe-v0", "--resume"], "--resume needs --out"),
        (
            ["learn", "TicTacToe-v0", "--llm", "replay:/nonexistent.jsonl"],
            "no transcript at /nonexistent.jsonl",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys, tmp_path):
    assert main([*argv, "--out", str(tmp_path / "run")] if "--resume" not in argv else argv) == 2
    assert message in _error_line(capsys)


def test_resume_of_a_missing_run_is_exit_2(capsys, tmp_path):
    assert main(["learn", "TicTacToe-v0", "--resume", "--out", str(tmp_path / "nothing")]) == 2
    assert "no run to resume" in _error_line(capsys)


def test_no_llm_and_no_bundled_transcript_is_a_clear_error(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    # (filter mode: no campaign ships it; policy and verifier runs of Othello may be shipped)
    assert main(["learn", "Othello-v0", "--mode", "filter", "--out", str(tmp_path / "run")]) == 2
    assert "no LLM configured" in _error_line(capsys)


def test_wrong_key_is_exit_2_and_the_run_is_kept(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
    out = tmp_path / "run"
    with FakeOpenAIServer(lambda body: error_reply(401, "Incorrect API key provided")) as server:
        code = main(["learn", "TicTacToe-v0", "--llm", "m", "--base-url", server.base_url, "--out", str(out)])
    assert code == 2
    line = _error_line(capsys)
    assert "--resume" in line
    assert (out / "run.sqlite").is_file()


def test_replay_reproduces_the_recorded_run_and_refuses_to_overwrite(transcript, capsys, tmp_path):
    out = tmp_path / "run"
    assert main(["learn", "TicTacToe-v0", "--llm", f"replay:{transcript}", "--out", str(out), *FAST]) == 0
    printed = capsys.readouterr().out
    assert "legal rate 1.000" in printed and "stopped: solved" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["iterations"], summary["best_node"], summary["legal_rate"]) == (2, 2, 1.0)
    assert main(["learn", "TicTacToe-v0", "--llm", f"replay:{transcript}", "--out", str(out), *FAST]) == 2
    assert "already holds a run" in _error_line(capsys)
    # Resuming a finished run changes nothing and asks the model nothing.
    assert (
        main(["learn", "TicTacToe-v0", "--llm", f"replay:{transcript}", "--out", str(out), "--resume"]) == 0
    )
    assert json.loads((out / "summary.json").read_text())["tree"] == summary["tree"]


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640)])
def test_results_are_readable_by_the_team_as_the_umask_allows(transcript, umask, mode, tmp_path):
    out = tmp_path / "run"
    old = os.umask(umask)
    try:
        assert main(["learn", "TicTacToe-v0", "--llm", f"replay:{transcript}", "--out", str(out), *FAST]) == 0
    finally:
        os.umask(old)
    for name in ("harness.py", "summary.json"):
        assert stat.S_IMODE((out / name).stat().st_mode) == mode, name
    assert not list(out.glob(".*.tmp"))


def test_without_llm_the_bundled_transcript_is_replayed_and_says_so(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    out = tmp_path / "run"
    assert main(["learn", "TicTacToe-v0", "--out", str(out)]) == 0  # the README's first command
    captured = capsys.readouterr()
    shipped = shipped_transcript("TicTacToe-v0", "verifier")  # the campaign's run, else the hand-recorded one
    assert shipped is not None and command.REPLAY_BANNER in captured.err and shipped.name in captured.err
    assert "its replies were manual:" in captured.err  # who answered, from the transcript itself
    assert "legal rate 1.000" in captured.out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mode"] == "verifier" and summary["legal_rate"] == 1.0


def test_resume_with_a_bigger_budget_continues_a_stopped_run(transcript, capsys, tmp_path):
    out = str(tmp_path / "run")
    replay = ["--llm", f"replay:{transcript}", "--out", out]
    assert main(["learn", "TicTacToe-v0", *replay, *FAST, "--max-iterations", "1"]) == 0
    assert "stopped: budget: iterations 1 of 1" in capsys.readouterr().out
    assert main(["learn", "TicTacToe-v0", *replay, "--resume", "--max-iterations", "5"]) == 0
    assert "after 2 iterations" in capsys.readouterr().out
    assert main(["learn", "TicTacToe-v0", *replay, "--resume", "--n-envs", "3"]) == 2
    assert "cannot resume with a different n_envs" in _error_line(capsys)


def test_without_out_a_second_run_gets_a_new_directory(tmp_path) -> None:
    from autoharness.learn.command import _fresh_run_dir

    base = tmp_path / "runs" / "TicTacToe-v0-verifier-s0"
    assert _fresh_run_dir(base) == base
    base.mkdir(parents=True)
    assert _fresh_run_dir(base) == base.with_name("TicTacToe-v0-verifier-s0-2")
    base.with_name("TicTacToe-v0-verifier-s0-2").mkdir()
    assert _fresh_run_dir(base).name == "TicTacToe-v0-verifier-s0-3"


def test_two_identical_learns_into_different_dirs_pay_once(monkeypatch, capsys, tmp_path, private_user_cache):
    """The per-user cache is shared across runs; each run still records its own calls (replay, resume)."""
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    with FakeOpenAIServer(lambda body: LAX if len(server.requests) % 2 else GOOD) as server:
        argv = ["learn", "TicTacToe-v0", "--llm", "m", "--base-url", server.base_url, *FAST]
        assert main([*argv, "--out", str(tmp_path / "a")]) == 0
        assert len(server.requests) == 2
        assert main([*argv, "--out", str(tmp_path / "b")]) == 0
        assert len(server.requests) == 2  # the second run was answered from the shared cache
        assert "2 LLM calls (2 answered from the cache)" in capsys.readouterr().out
        assert main([*argv, "--out", str(tmp_path / "c"), "--no-cache"]) == 0
        assert len(server.requests) == 4  # --no-cache pays again
    summaries = [json.loads((tmp_path / d / "summary.json").read_text()) for d in "abc"]
    assert summaries[0]["tree"] == summaries[1]["tree"] == summaries[2]["tree"]
    assert [s["cached_llm_calls"] for s in summaries] == [0, 2, 0]
    assert (private_user_cache / "autoharness" / "llm_cache.sqlite").is_file()
    for run in "bc":
        with ResponseCache(tmp_path / run / LLM_CACHE) as own:
            assert len(own) == 2  # the run's own record is complete, cached or not
        assert export_transcript(tmp_path / run / LLM_CACHE, tmp_path / f"{run}.jsonl") == 2
    capsys.readouterr()
    assert main(["learn", "TicTacToe-v0", "--cache", "x", "--no-cache", "--out", str(tmp_path / "d")]) == 2
    assert "contradict" in _error_line(capsys)


def test_a_huge_broken_reply_is_a_recorded_bad_reply_and_resume_goes_on(monkeypatch, capsys, tmp_path):
    """1.2 MB of broken code used to take minutes to extract (quadratic), and the cached reply hung
    every resume the same way; now it is a bad reply at once and the resumed run asks the model anew."""
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    out = tmp_path / "run"
    poison = "```python\n" + "def propose_action(obs:\n    x = (\n" * 60_000
    replies = {"now": poison}
    with FakeOpenAIServer(lambda body: replies["now"]) as server:
        llm = ["--llm", "m", "--base-url", server.base_url, "--out", str(out)]
        started = time.monotonic()
        assert main(["learn", "TicTacToe-v0", *llm, "--max-iterations", "1", *FAST]) == 0
        assert time.monotonic() - started < 30
        summary = json.loads((out / "summary.json").read_text())
        assert [n["kind"] for n in summary["tree"]] == ["root:bad_reply"]
        replies["now"] = GOOD
        assert main(["learn", "TicTacToe-v0", *llm, "--resume", "--max-iterations", "3"]) == 0
        assert len(server.requests) == 2
    summary = json.loads((out / "summary.json").read_text())
    assert summary["legal_rate"] == 1.0 and summary["llm_calls"] == 2
    assert "Traceback" not in capsys.readouterr().err
