"""``suite``, ``library`` and ``report`` with game ids beyond the paper: an OpenSpiel game and a user's env
(``package.module:attr``), learned through the loopback fake OpenAI server answering scripted harnesses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autoharness.cli import main
from tests.llm.fake_openai import FakeOpenAIServer
from tests.test_tutorial import STONES

TIC_TAC_TOE = """import re


def _me(obs):
    m = re.search(r"you are player (\\d)", obs)
    return "x" if m is None or m.group(1) == "0" else "o"


def legal_actions(obs):
    rows = obs.rsplit("Your observation:\\n", 1)[-1].splitlines()[:3]
    return [f"[{_me(obs)}({r},{c})]" for r, row in enumerate(rows) for c, ch in enumerate(row) if ch == "."]


def propose_action(obs):
    return legal_actions(obs)[0]


def is_legal_action(obs, action):
    return action.strip() in legal_actions(obs)
"""
GAMES = ["openspiel:tic_tac_toe", "tests.envs.user_games:Stones"]


def _reply(body: dict) -> str:
    prompt = "\n".join(str(m.get("content", "")) for m in body["messages"])
    return f"```python\n{TIC_TAC_TOE if 'Tic Tac Toe' in prompt else STONES}```\n"


def test_suite_library_and_report_take_openspiel_and_user_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    monkeypatch.setenv("AUTOHARNESS_BUILTIN_DIR", str(tmp_path / "no-builtin"))  # list only this suite's
    with FakeOpenAIServer(_reply) as server:
        argv = ["suite", "--games", ",".join(GAMES), "--llm", "fake", "--base-url", server.base_url]
        argv += ["--out", "suite", "--library", "lib", "--matches", "2", "--workers", "1"]
        argv += ["--eval-agent", "policy", "--n-envs", "3", "--parallelism", "1"]
        assert main(argv) == 0, capsys.readouterr().err
    manifest = json.loads(Path("suite/suite.json").read_text())
    rows = {row["game"]: row for row in manifest["table"]}
    assert set(rows) == set(GAMES)
    for row in rows.values():
        assert (row["status"], row["legal_rate"], row["paper_learning_steps"]) == ("done", 1.0, None)
    capsys.readouterr()
    assert main(["library", "list", "--library", "lib", "--json"]) == 0
    stored = json.loads(capsys.readouterr().out)
    assert {e["game"] for e in stored} == set(GAMES)
    assert {e["family"] for e in stored} == {"openspiel:tic_tac_toe", "tests.envs.user_games:Stones"}
    assert main(["library", "show", "openspiel:tic_tac_toe", "--library", "lib"]) == 0
    assert "def is_legal_action" in capsys.readouterr().out
    assert main(["library", "export", "bundle.json", "--library", "lib", "--games", GAMES[1]]) == 0
    assert [e["game"] for e in json.loads(Path("bundle.json").read_text())["entries"]] == [GAMES[1]]
    assert main(["report", "suite"]) == 0
    assert Path("suite/report.html").is_file()
