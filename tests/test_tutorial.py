"""docs/environments.md, run: every ``autoharness`` command of its bash blocks, in order, from a copy of
``examples/``. No model is reachable here: ``--llm gpt-4o-mini`` goes to the loopback fake OpenAI server,
which answers with the harnesses below — written for this test, scripted, not a model's output."""

from __future__ import annotations

import io
import re
import shlex
import shutil
from pathlib import Path

import pytest

from autoharness.cli import main
from tests.llm.fake_openai import FakeOpenAIServer

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "environments.md"

STONES = """import re


def _left(obs):
    return int(re.findall(r"(\\d+) stones are left", obs)[-1])


def legal_actions(obs):
    n = _left(obs)
    return [f"[take {k}]" for k in (1, 2, 3) if k <= n and (k != 3 or n % 2 == 1)]


def propose_action(obs):
    return legal_actions(obs)[-1]


def is_legal_action(obs, action):
    return action.strip() in legal_actions(obs)
"""

CONNECT_FOUR = """import re


def _me(obs):
    m = re.search(r"you are player (\\d)", obs)
    return "x" if m is None or m.group(1) == "0" else "o"


def legal_actions(obs):
    top = obs.rsplit("Your observation:\\n", 1)[-1].splitlines()[0]
    return [f"[{_me(obs)}{c}]" for c, ch in enumerate(top) if ch == "."]


def propose_action(obs):
    moves = legal_actions(obs)
    return moves[len(moves) // 2]


def is_legal_action(obs, action):
    return action.strip() in legal_actions(obs)
"""


def _reply(body: dict) -> str:
    prompt = "\n".join(str(m.get("content", "")) for m in body["messages"])
    code = CONNECT_FOUR if "Connect Four" in prompt else STONES
    return f"```python\n{code}```\n"


def tutorial_commands() -> list[list[str]]:
    """Every command line of the doc's bash blocks (``cd`` included), split like a shell would."""
    blocks = re.findall(r"```bash\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
    lines = [line.split("#", 1)[0].strip() for block in blocks for line in block.splitlines()]
    return [shlex.split(line) for line in lines if line]


def test_the_tutorial_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    commands = tutorial_commands()
    names = [c[1] for c in commands if c[0] == "autoharness"]
    assert {"check-env", "show", "learn", "rollout", "eval", "report", "play", "games"} <= set(names)
    shutil.copytree(ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    with FakeOpenAIServer(_reply) as server:
        for command in commands:
            if command[0] == "cd":
                monkeypatch.chdir(command[1])
                continue
            assert command[0] == "autoharness", command
            argv = command[1:]
            if "--llm" in argv:
                at = argv.index("--llm") + 1
                argv[at : at + 1] = ["fake", "--base-url", server.base_url]
            if argv[0] == "play":
                monkeypatch.setattr("sys.stdin", io.StringIO("[take 1]\n" * 30))
            assert main(argv) == 0, (command, capsys.readouterr())
            out = capsys.readouterr().out
            if argv[0] == "check-env":
                assert "every check passed" in out
            if argv[0] == "learn":
                assert "legal rate 1.000" in out
            if argv[0] == "rollout":
                assert "legal_rate 1.0000" in out
            if argv[0] == "play":
                assert "game over after" in out
    assert (Path("runs") / "stones-eval" / "report.html").is_file()
    assert len(server.requests) == 2  # one scripted reply per learned game, each solved at once
