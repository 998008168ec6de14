"""Who answered is shown wherever the model is: summary.json, harness.py, the eval table and the report."""

from __future__ import annotations

import json

from autoharness.cli import main
from autoharness.evaluate import AgentSpec, evaluate, results_table, save_eval
from autoharness.llm import make_client
from autoharness.llm.provenance import answered_by, model_label, original, replayed
from autoharness.report import write_report
from tests.fakes import ScriptedLLM
from tests.llm.fake_openai import FakeOpenAIServer
from tests.test_agents import first_empty

MANUAL = "manual: answered by a person at the terminal"
LIVE = "openai-compatible:gpt-x@https://api.example/v1"


def test_a_replay_of_a_replay_is_traced_to_who_first_answered():
    twice = replayed("/b.jsonl", replayed("/a.jsonl", MANUAL))
    assert original(twice) == MANUAL
    assert answered_by([twice, MANUAL, replayed("/c.jsonl", LIVE)]) == [MANUAL, LIVE]
    assert model_label("gpt-x", [LIVE, replayed("/a.jsonl", LIVE)]) == "gpt-x"  # the named model answered
    assert model_label("manual", [twice]) == f"manual (answered by: {MANUAL})"
    assert model_label("m", [LIVE, MANUAL]) == f"m (answered by: {MANUAL}; {LIVE})"


def test_a_replayed_run_names_the_stand_in_in_summary_harness_and_report(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    out = tmp_path / "run"
    assert main(["learn", "TicTacToe-v0", "--out", str(out), "--n-envs", "4", "--parallelism", "2"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] == "manual"
    (who,) = summary["answered_by"]
    assert who.startswith("manual: answered through the manual backend by a Claude helper agent")
    header = (out / "harness.py").read_text().split("\n\n", 1)[0]
    assert f"# model: manual (answered by: {who})" in header
    page = write_report(out).read_text()
    assert f"manual (answered by: {who})" in page


def test_eval_table_and_report_show_who_answered_for_an_llm_agent(tmp_path):
    (stand_in,) = evaluate(
        "TicTacToe-v0",
        [AgentSpec("llm", "m")],
        matches=2,
        make_llm=lambda model: ScriptedLLM(lambda messages: first_empty(messages), model=model),
    )
    with FakeOpenAIServer(lambda body: first_empty(body["messages"])) as server:
        (live,) = evaluate(
            "TicTacToe-v0",
            [AgentSpec("llm", "m")],
            matches=2,
            make_llm=lambda model: make_client(model, base_url=server.base_url),
        )
    assert list(results_table([stand_in, live]).columns[0].cells) == [
        "llm:m (answered by: scripted:m)",
        "llm:m",
    ]
    save_eval(tmp_path / "a", [stand_in], harness_path=None, harness_source=None)
    save_eval(tmp_path / "b", [live], harness_path=None, harness_source=None)
    page = write_report(tmp_path).read_text()
    assert page.count("llm:m (answered by: scripted:m)") == 1 and '<td class="l">llm:m</td>' in page
