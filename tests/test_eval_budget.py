"""Progress inside long evaluations and the per-evaluation time budget (``--eval-seconds``), on real 2048
games with a policy harness that is slow on purpose (each move takes 0.1 s, so no game ends in time)."""

from __future__ import annotations

import json
import time

from autoharness.cli import main
from autoharness.evaluate import AgentSpec, evaluate
from autoharness.learn.config import LearnConfig
from autoharness.learn.loop import LLM_CACHE, learn
from autoharness.learn.store import RunStore
from autoharness.llm import MeteredClient, ResponseCache
from tests.fakes import ScriptedLLM
from tests.harnesses import SLOW_POLICY


def test_learning_cuts_slow_games_at_the_budget_shows_progress_and_tells_the_model(tmp_path):
    notes: list[str] = []
    client = MeteredClient(
        ScriptedLLM(lambda m: f"```python\n{SLOW_POLICY}```"), cache=ResponseCache(tmp_path / LLM_CACHE)
    )
    config = LearnConfig(mode="policy", n_envs=2, parallelism=2, eval_seconds=2.0, max_iterations=1)
    started = time.monotonic()
    learn("2048-v0", config, client, tmp_path, progress=lambda p: notes.append(p.note))
    assert time.monotonic() - started < 120  # 2 games × up to 1,000 steps × 0.1 s would take 200 s
    live = [n for n in notes if n.startswith("evaluating: games ")]
    assert live and "steps" in live[-1] and "of 2 s" in live[-1] and "slowest call" in live[-1]
    assert "(propose_action)" in live[-1] and live[-1].endswith("2 cut by the time budget")
    store = RunStore(tmp_path, create=False)
    try:
        (node,) = store.nodes()
    finally:
        store.close()
    ev = node.evaluation
    assert (ev["eval_seconds"], ev["time_cut"], ev["out_of_time"]) == (2.0, 2, False)
    assert {r["end"] for r in ev["rollouts"]} == {"cut by the time budget"}
    assert sum(r["steps"] for r in ev["rollouts"]) > 0 and ev["slowest_call"]["function"] == "propose_action"
    assert ev["slowest_call"]["seconds"] >= 0.1
    assert node.h == 0.5  # no illegal move, and no game played to the end: no reward counted
    assert "2 of the 2 games were cut by the evaluation's time budget of 2 s" in node.feedback
    assert "make your code faster" in node.feedback


def test_eval_reports_cut_and_unstarted_matches_apart_from_played_ones():
    lines: list[str] = []
    (result,) = evaluate(
        "2048-v0",
        [AgentSpec("policy")],
        harness_source=SLOW_POLICY,
        matches=3,
        eval_seconds=1.5,
        on_progress=lambda w: lines.append(f"{w.label}: {w.line()}"),
    )
    s = result.summary()
    assert result.matches == [] and s["matches"] == 0 and s["mean_reward"] is None  # nothing was played
    assert (s["time_cut"], s["not_started"], s["eval_seconds"]) == (1, 2, 1.5)
    assert lines[-1].startswith("policy: games 0/3 · ") and "1 cut by the time budget" in lines[-1]
    assert "slowest call" in lines[-1]


def test_eval_cli_takes_eval_seconds_and_saves_the_cut(tmp_path, capsys):
    harness = tmp_path / "slow.py"
    harness.write_text(SLOW_POLICY)
    argv = ["eval", "2048-v0", "--agent", "policy", "--harness", str(harness), "--matches", "2"]
    assert main([*argv, "--eval-seconds", "1", "--out", str(tmp_path / "ev"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["matches"], out["time_cut"], out["not_started"]) == (0, 1, 1)
    saved = json.loads((tmp_path / "ev" / "eval.json").read_text())["results"][0]
    assert (saved["time_cut"], saved["not_started"], saved["match_records"]) == (1, 1, [])
    assert main([*argv, "--eval-seconds", "0"]) == 2
    assert "--eval-seconds" in capsys.readouterr().err
