"""Resume after kill -9: a real subprocess is SIGKILLed mid-run; the resumed run ends with the same tree
as an uninterrupted one, and no LLM call that had completed is made again."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from autoharness.learn.loop import learn
from tests.fakes import ScriptedLLM
from tests.learn.resumable_run import CONFIG, GAME, reply_for
from tests.run_store import nodes

ROOT = Path(__file__).resolve().parents[2]


def _tree(run_dir: Path) -> list[tuple]:
    return nodes(run_dir, "id, parent, kind, code, h, refined")


def _run(run_dir: Path, log: Path, *kill: object) -> int:
    cmd = [sys.executable, "-m", "tests.learn.resumable_run", str(run_dir), str(log), *map(str, kill)]
    return subprocess.run(cmd, cwd=ROOT, timeout=120, capture_output=True).returncode


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> list[tuple]:
    run_dir = tmp_path_factory.mktemp("reference") / "run"
    learn(GAME, CONFIG, ScriptedLLM(reply_for), run_dir)
    return _tree(run_dir)


@pytest.mark.parametrize(
    ("phase", "iteration", "nodes_before"),
    [
        ("evaluate", 1, 1),  # after the 2nd LLM call completed, during its evaluation
        ("llm", 1, 1),  # before the 2nd call was made
        ("node", 2, 2),  # right after the 2nd node was committed
    ],
)
def test_sigkill_then_resume_continues_where_it_was(tmp_path, reference, phase, iteration, nodes_before):
    run_dir, log = tmp_path / "run", tmp_path / "calls.log"
    assert _run(run_dir, log, phase, iteration) == -signal.SIGKILL
    assert len(_tree(run_dir)) == nodes_before
    assert _run(run_dir, log) == 0
    tree = _tree(run_dir)
    assert tree == reference
    assert len(log.read_text().splitlines()) == len(tree)  # every node's LLM call was made exactly once
    assert (run_dir / "harness.py").is_file() and (run_dir / "summary.json").is_file()
