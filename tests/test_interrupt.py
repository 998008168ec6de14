"""SIGTERM (``kill PID``) stops learn, eval and suite as Ctrl-C does: cleanly, saying how to go on, with the
run left resumable. Each test runs the real CLI in a subprocess and sends it a real signal while it waits on
the (loopback) model endpoint, then continues the run with the exact command it printed."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from autoharness.cli import main
from tests.learn.tictactoe import GOOD, LAX
from tests.llm.fake_openai import FakeOpenAIServer
from tests.test_agents import first_empty


class Gate:
    """A model endpoint that answers ``before`` requests, then holds the next one until ``release``."""

    def __init__(self, answer, before: int) -> None:
        self.answer, self.before = answer, before
        self.count = 0
        self.holding, self.released = threading.Event(), threading.Event()
        self._lock = threading.Lock()

    def __call__(self, body: dict) -> str:
        with self._lock:
            self.count += 1
            hold = self.count == self.before + 1
        if hold:
            self.holding.set()
            self.released.wait(60)
        return self.answer(body)


def _start(argv: list[str], tmp_path: Path) -> subprocess.Popen[str]:
    env = os.environ | {"OPENAI_API_KEY": "k", "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    return subprocess.Popen(
        [sys.executable, "-m", "autoharness.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _terminate(proc: subprocess.Popen[str], gate: Gate, release: bool = False) -> str:
    """SIGTERM once the endpoint holds a request; returns the last stderr line."""
    assert gate.holding.wait(120), "the command never reached the held request"
    proc.send_signal(signal.SIGTERM)
    if release:
        time.sleep(0.5)
        gate.released.set()
    _, err = proc.communicate(timeout=120)
    gate.released.set()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err, err
    return err.strip().splitlines()[-1]


def test_sigterm_stops_learn_and_prints_the_exact_resume_command(tmp_path):
    out = tmp_path / "run"
    gate = Gate(lambda body: LAX if gate.count == 1 else GOOD, before=1)  # the refinement call is held
    with FakeOpenAIServer(gate) as server:
        argv = ["learn", "TicTacToe-v0", "--llm", "m", "--base-url", server.base_url, "--out", str(out)]
        line = _terminate(_start([*argv, "--n-envs", "4", "--parallelism", "2"], tmp_path), gate)
        assert line.startswith(
            f"autoharness: interrupted (SIGTERM); the run in {out} is kept: continue it with: "
        )
        command = shlex.split(line.split("continue it with: ", 1)[1])
        assert command == ["autoharness", "learn", "TicTacToe-v0", "--out", str(out), "--resume", *argv[2:6]]
        assert main(command[1:]) == 0  # the printed command, as typed
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["iterations"], summary["legal_rate"]) == (2, 1.0)
    assert gate.count == 3  # the first reply came from the run's record; only the held request was repeated


def test_sigterm_stops_eval_and_saves_the_finished_matches_marked_interrupted(tmp_path):
    out = tmp_path / "eval"
    gate = Gate(lambda body: first_empty(body["messages"]), before=7)  # a TicTacToe match takes ≤ 5 moves
    with FakeOpenAIServer(gate) as server:
        argv = ["eval", "TicTacToe-v0", "--agent", "llm:m", "--matches", "8", "--base-url", server.base_url]
        line = _terminate(_start([*argv, "--out", str(out)], tmp_path), gate, release=True)
    assert line.startswith("autoharness: interrupted (SIGTERM); the ")
    assert f"finished are saved in {out}, marked interrupted" in line and "run the same command again" in line
    (result,) = json.loads((out / "eval.json").read_text())["results"]
    assert result["aborted"] == "interrupted" and 1 <= result["matches"] < 8
    assert f"the {result['matches']} matches finished" in line
    assert all(m["ended"] != "step_cap" for m in result["match_records"])  # only whole matches were kept


def test_sigterm_stops_a_suite_at_once_and_it_resumes(tmp_path):
    out = tmp_path / "suite"
    gate = Gate(lambda body: GOOD, before=0)  # the first learning call is held in a suite worker process
    with FakeOpenAIServer(gate) as server:
        argv = [
            "suite",
            "--games",
            "TicTacToe-v0",
            "--llm",
            "m",
            "--base-url",
            server.base_url,
            "--out",
            str(out),
        ]
        flags = [
            "--workers",
            "1",
            "--n-envs",
            "3",
            "--parallelism",
            "1",
            "--eval-agent",
            "none",
            "--no-library",
        ]
        started = time.monotonic()
        line = _terminate(_start([*argv, *flags], tmp_path), gate)
        assert time.monotonic() - started < 60  # the held game was stopped, not waited for
        assert line.startswith(f"autoharness: interrupted (SIGTERM); finished games are kept in {out}: ")
        command = shlex.split(line.split("continue with: ", 1)[1])
        assert command == ["autoharness", "suite", "--out", str(out), "--resume", "--workers", "1"]
        assert json.loads((out / "suite.json").read_text())["games"]["TicTacToe-v0"]["status"] == "running"
        assert main(command[1:]) == 0
    assert json.loads((out / "suite.json").read_text())["games"]["TicTacToe-v0"]["status"] == "done"
