"""A running suite's per-game progress (``autoharness.progress``): written by the workers of a real suite,
shown by the suite's own display and by ``suite --status`` from another process, also after a kill."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time

from autoharness import progress
from autoharness.cli import main
from autoharness.executors import LocalExecutor
from autoharness.suite import SuiteConfig, SuiteManifest, run_suite
from tests.llm.fake_openai import FakeOpenAIServer
from tests.test_suite import LEARN, _descendants, scripted_reply


def test_a_running_game_reports_its_phases_with_counts(tmp_path):
    """Learning (the LLM call under way), the learner's verification (positions), the evaluation (matches)."""
    game_dir = tmp_path / "s" / "games" / "TicTacToe-v0"
    during_call: list[dict | None] = []
    seen: list[dict] = []
    stop = threading.Event()

    def reply(body: dict) -> str:
        during_call.append(progress.read(game_dir))
        return scripted_reply(body)

    def poll() -> None:
        while not stop.is_set():
            entry = progress.read(game_dir)
            if entry is not None and (not seen or entry != seen[-1]):
                seen.append(entry)
            time.sleep(0.02)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    with FakeOpenAIServer(reply) as server:
        config = SuiteConfig(
            games=["TicTacToe-v0"],
            learn=dataclasses.replace(LEARN, verify_positions=40),
            llm="fake-model",
            base_url=server.base_url,
            eval_agent="policy",
            matches=2,
        )
        executor = LocalExecutor(1)
        try:
            manifest = run_suite(tmp_path / "s", executor, config=config)
        finally:
            executor.close()
            stop.set()
            poller.join()
    assert manifest.games["TicTacToe-v0"]["status"] == "done"
    first = during_call[0]
    assert first is not None and first["phase"] == "learn" and first["game"] == "TicTacToe-v0"
    assert "iteration 1 of 2" in first["detail"] and "waiting for LLM call 1" in first["detail"]
    assert first["pid"] != os.getpid()  # written by the worker process
    phases = [e["phase"] for e in seen]
    assert phases.index("learn") < phases.index("verify") < phases.index("evaluate"), phases
    assert {e["total"] for e in seen if e["phase"] == "verify"} == {40}
    assert all(e["done"] <= 40 for e in seen if e["phase"] == "verify")
    last = progress.read(game_dir)
    assert last is not None and (last["phase"], last["done"], last["total"]) == ("evaluate", 2, 2)
    assert "games 2/2" in last["detail"]


def test_status_reads_a_running_suite_then_a_killed_one_and_resume_shows_progress_lines(
    tmp_path, capsys, monkeypatch
):
    out = tmp_path / "s"
    release = threading.Event()

    def held(body: dict) -> str:
        release.wait(120)
        time.sleep(1.0)  # the resumed game's LLM call lasts long enough for the log lines below
        return scripted_reply(body)

    with FakeOpenAIServer(held) as server:
        common = ["--out", str(out), "--workers", "1"]
        cmd = [sys.executable, "-m", "autoharness.cli", "suite", "--games", "TicTacToe-v0", *common]
        cmd += ["--llm", "fake-model", "--base-url", server.base_url, "--no-library", "--no-cache"]
        cmd += ["--matches", "2", "--n-envs", "3", "--max-iterations", "2", "--eval-agent", "policy"]
        env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            text = ""
            while time.monotonic() < deadline and proc.poll() is None:
                if (out / "suite.json").exists():
                    assert main(["suite", "--status", str(out)]) == 0
                    text = capsys.readouterr().out
                    if "waiting for LLM call 1" in text:
                        break
                time.sleep(0.2)
            helpers = _descendants(proc.pid)
        finally:
            proc.send_signal(signal.SIGKILL)  # the suite process only: its workers leave by themselves
            proc.wait()
        lines = text.splitlines()
        assert f"0/1 done, 0 failed, 1 running, 0 pending; suite process {proc.pid} is running" in lines[0]
        assert len(lines) == 2 and lines[1].startswith("[run] TicTacToe-v0"), text
        assert "learn · iteration 1 of 2 · waiting for LLM call 1: writing the harness" in lines[1]
        assert "stale" not in text

        deadline = time.monotonic() + 15
        while any(os.path.exists(f"/proc/{pid}") for pid in helpers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert main(["suite", "--status", "--out", str(out), "--json"]) == 0
        status = json.loads(capsys.readouterr().out)
        assert status["suite_pid"] is None and status["totals"]["running"] == 1
        game = status["running"]["TicTacToe-v0"]
        assert game["progress"]["phase"] == "learn" and "--resume starts it again" in game["stale"]
        assert main(["suite", "--status", str(out)]) == 0
        text = capsys.readouterr().out
        assert (
            "no suite process runs (stopped or killed)" in text
            and "[stale: the suite process is gone" in text
        )
        assert main(["suite", "--status", str(out), "--resume"]) == 2  # --status only reads
        assert "--status only reads" in capsys.readouterr().err

        release.set()
        monkeypatch.setattr(progress, "LOG_EVERY", 0.2)
        assert main(["suite", "--resume", *common]) == 0
    err = capsys.readouterr().err
    logged = [line for line in err.splitlines() if line.startswith("[run] TicTacToe-v0")]
    assert any("learn · iteration 1 of 2 · waiting for LLM call 1" in line for line in logged), err
    assert SuiteManifest.load(out).games["TicTacToe-v0"]["status"] == "done"
    assert main(["suite", "--status", str(out)]) == 0
    text = capsys.readouterr().out
    assert "1/1 done, 0 failed, 0 running" in text and "[run]" not in text
