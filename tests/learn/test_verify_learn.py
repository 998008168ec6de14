"""learn verifies its harness on held-out positions, records it, and feeds counterexamples back on request."""

from __future__ import annotations

import json

import pytest

from autoharness.cli import main
from autoharness.errors import ConfigError
from autoharness.learn.config import LearnConfig
from autoharness.learn.loop import learn
from autoharness.llm.extract import extract_code
from tests.fakes import ScriptedLLM
from tests.learn.tictactoe import GOOD, reply
from tests.llm.fake_openai import FakeOpenAIServer

RARE = reply(
    extract_code(GOOD).replace(
        "return bool(m) and m.group(1) in _free(obs)",
        'return bool(m) and (m.group(1) in _free(obs) or (m.group(1) == "8" and len(_free(obs)) == 2))',
    )
)
"""Accepts a taken cell 8 when two cells are left: training (first-free proposer, no probe) never sees it."""

# Training cannot see the flaw: no probing, no exploration (the paper's protocol).
BLIND = {"probe": False, "explore": 0.0, "n_envs": 3, "parallelism": 1, "verify_positions": 300}


def answer(messages) -> str:
    """The scripted model: the flawed harness, until it is shown verification counterexamples."""
    return GOOD if "held-out positions" in messages[-1]["content"] else RARE


def test_learn_records_a_failed_verification_then_refines_on_its_counterexamples(tmp_path) -> None:
    out = tmp_path / "run"
    first = learn("TicTacToe-v0", LearnConfig(**BLIND), ScriptedLLM(answer), out)
    assert first.stop_reason == "solved" and first.h == 1.0  # legal rate 1.0 on the training games
    summary = json.loads((out / "summary.json").read_text())
    verification = summary["verification"]
    assert verification["positions"] == 300 and verification["false_accepts"] > 0
    assert verification["passed"] is False and verification["seeds"][0] >= 1_000_000
    assert verification["counterexamples"][0]["action"] == "[8]"
    header = (out / "harness.py").read_text().split("\n\n", 1)[0]
    assert (
        f"# verification on 300 held-out positions: {verification['disagreements']} disagreements" in header
    )

    llm = ScriptedLLM(answer)
    second = learn("TicTacToe-v0", LearnConfig(**BLIND), llm, out, resume=True, refine_on_verify=True)
    assert llm.calls == 1
    prompt = llm.requests[0][0][-1]["content"]
    assert "held-out positions" in prompt and "'[8]'" in prompt and "is_legal_action accepted" in prompt
    summary = json.loads((out / "summary.json").read_text())
    assert (
        summary["tree"][-1]["kind"] == "refine_verify" and summary["best_node"] == summary["tree"][-1]["id"]
    )
    assert second.verification is not None and second.verification["passed"]
    assert summary["verification"]["disagreements"] == 0
    assert "# verified on 300 held-out positions: 0 disagreements" in (out / "harness.py").read_text()
    assert (out / "harness.py").read_text().endswith(extract_code(GOOD).rstrip("\n") + "\n")


def test_verify_positions_0_skips_it(tmp_path) -> None:
    result = learn(
        "TicTacToe-v0", LearnConfig(**BLIND | {"verify_positions": 0}), ScriptedLLM(answer), tmp_path
    )
    assert result.verification is None
    assert json.loads((tmp_path / "summary.json").read_text())["verification"] is None
    assert "# not verified" in (tmp_path / "harness.py").read_text()
    with pytest.raises(ConfigError, match="drop --verify-positions 0"):
        learn(
            "TicTacToe-v0",
            LearnConfig(**BLIND | {"verify_positions": 0}),
            ScriptedLLM(answer),
            tmp_path,
            resume=True,
            refine_on_verify=True,
        )


def test_refine_on_verify_of_a_harness_that_passed_is_refused(tmp_path) -> None:
    learn(
        "TicTacToe-v0", LearnConfig(**BLIND | {"verify_positions": 40}), ScriptedLLM(lambda m: GOOD), tmp_path
    )
    with pytest.raises(ConfigError, match="no counterexample"):
        learn(
            "TicTacToe-v0",
            LearnConfig(**BLIND | {"verify_positions": 40}),
            ScriptedLLM(lambda m: GOOD),
            tmp_path,
            resume=True,
            refine_on_verify=True,
        )


def test_cli_last_line_says_the_harness_failed_verification(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    out = tmp_path / "run"

    def handler(body: dict) -> str:
        return answer(body["messages"])

    flags = [
        "--no-probe",
        "--explore",
        "0",
        "--n-envs",
        "3",
        "--parallelism",
        "1",
        "--verify-positions",
        "300",
    ]
    flags.append("--no-cache")
    with FakeOpenAIServer(handler) as server:
        base = [
            "learn",
            "TicTacToe-v0",
            "--llm",
            "m",
            "--base-url",
            server.base_url,
            "--out",
            str(out),
            *flags,
        ]
        assert main(base) == 0
        last = capsys.readouterr().out.strip().splitlines()[-1]
        assert last.startswith("HARNESS FAILED VERIFICATION: verification on 300 held-out positions")
        assert main([*base, "--resume", "--refine-on-verify"]) == 0
        last = capsys.readouterr().out.strip().splitlines()[-1]
        assert last == "verified on 300 held-out positions: 0 disagreements"
    assert main(["learn", "TicTacToe-v0", "--out", str(out), "--refine-on-verify"]) == 2
    assert "only applies with --resume" in capsys.readouterr().err


class _SlowMachine:
    """verify's clock on a machine where every game takes 1,000 s: any wall-time budget is spent at once."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        self.now += 1000.0
        return self.now


def test_learn_and_suite_verify_every_position_however_slow_the_machine(tmp_path, monkeypatch) -> None:
    """The positions figure of a learned run (and the repair prompt built on it) must replay anywhere: on a
    machine slow enough to spend any time budget after one game, learn and the suite's check of a reused
    harness still verify all their positions, with the same figures as on a fast one."""
    import autoharness.verify as verify
    from autoharness.suite import _verify_reused

    config = LearnConfig(**BLIND | {"verify_positions": 60})
    fast = learn("TicTacToe-v0", config, ScriptedLLM(lambda m: GOOD), tmp_path / "fast").verification
    reused_fast = _verify_reused("TicTacToe-v0", config, extract_code(GOOD))
    monkeypatch.setattr(verify, "time", _SlowMachine())
    slow = learn("TicTacToe-v0", config, ScriptedLLM(lambda m: GOOD), tmp_path / "slow").verification
    assert fast is not None and slow is not None
    assert slow["positions"] == fast["positions"] == 60 and slow["stopped"] is None
    drop = ("seconds", "positions_per_second", "node")
    figures = [{k: v for k, v in run.items() if k not in drop} for run in (fast, slow)]
    assert figures[0] == figures[1]
    assert _verify_reused("TicTacToe-v0", config, extract_code(GOOD)) == reused_fast
    assert reused_fast is not None and reused_fast["positions"] == 60


def test_resuming_a_run_whose_verification_the_old_time_budget_cut_verifies_it_again(tmp_path) -> None:
    """Runs recorded while learn cut verification at 10 minutes stay readable; resumed, a cut node is
    verified again to its configured positions (a cut figure depends on the machine that ran it)."""
    from autoharness.learn.store import RunStore

    config = LearnConfig(**BLIND | {"verify_positions": 60})
    learn("TicTacToe-v0", config, ScriptedLLM(lambda m: GOOD), tmp_path)
    store = RunStore(tmp_path, create=False)
    stored = store.meta()["verifications"]
    (key,) = stored
    stored[key] |= {"positions": 6, "stopped": "time budget spent after 6 of 60 positions"}
    store.set_meta(verifications=stored)
    store.close()
    result = learn("TicTacToe-v0", config, ScriptedLLM(lambda m: GOOD), tmp_path, resume=True)
    assert result.verification is not None
    assert result.verification["positions"] == 60 and result.verification["stopped"] is None
