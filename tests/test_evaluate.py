"""The paper's evaluation protocol on real games, through the Python API and the ``eval``/``play`` CLI."""

from __future__ import annotations

import io
import json

import pytest

from autoharness.cli import main
from autoharness.errors import ConfigError
from autoharness.evaluate import (
    AgentSpec,
    evaluate,
    load_eval,
    match_plan,
    results_table,
    save_eval,
    wdl_text,
)
from autoharness.llm import make_client
from tests.harnesses import LINES_OF_ACTION_POLICY
from tests.llm.fake_openai import FakeOpenAIServer, error_reply
from tests.test_agents import CRASHES_ON_THIRD_MARK, TICTACTOE, first_empty


def test_match_plan_splits_seats_evenly_on_evaluation_seeds():
    plan = match_plan(2, 40)
    assert [seat for _, seat in plan].count(0) == 20 == [seat for _, seat in plan].count(1)
    assert min(seed for seed, _ in plan) == 1_000_000 and len({seed for seed, _ in plan}) == 20
    assert match_plan(1, 20) == [(1_000_000 + i, 0) for i in range(20)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("gpt", "unknown agent"),
        ("verifier", "needs a model"),
        ("policy:gpt-4o", "takes no model"),
        (",", "at least one"),
    ],
)
def test_bad_agent_specs_are_one_clear_error(text, message):
    with pytest.raises(ConfigError, match=message):
        AgentSpec.parse_list(text)


def test_two_player_protocol_counts_wins_draws_losses_consistently():
    (result,) = evaluate("TicTacToe-v0", [AgentSpec("random")], matches=8)
    s = result.summary()
    assert s["matches"] == 8 and s["wins"] + s["draws"] + s["losses"] == 8
    assert s["legal_rate"] == 1.0 == s["opponent_legal_rate"]
    assert [m.seat for m in result.matches] == [0, 1] * 4
    for m in result.matches:  # the outcome agrees with the raw rewards of the agent's seat
        mine, theirs = m.rewards[str(m.seat)], m.rewards[str(1 - m.seat)]
        assert m.outcome == ("win" if mine > theirs else "loss" if mine < theirs else "draw")
        assert m.agent["moves"] + m.opponent["moves"] == m.steps


def test_one_player_protocol_reports_mean_normalised_reward():
    (result,) = evaluate("2048-v0", [AgentSpec("random")], matches=3, max_steps=60)
    s = result.summary()
    assert s["matches"] == 3 and s["opponent"] is None and "wins" not in s
    assert 0.0 <= s["mean_reward"] <= 1.0 and s["legal_rate"] == 1.0
    assert s["seeds"] == [1_000_000, 1_000_001, 1_000_002]
    # Cut at the step cap: scored by 2048's own completion measure for the board reached, never 0 for it.
    assert {m.ended for m in result.matches} == {"step_cap"} and s["cut"] == 3
    assert all(m.rewards is not None and m.reward == m.rewards["0"] > 0 for m in result.matches)


HANOI_SOLVER = '''
import re


def _towers(obs):
    board = obs.rsplit("Current Board:", 1)[-1]
    rows = re.findall(r"^([ABC]): (\\[.*\\])", board, re.M)
    return {t: [int(d) for d in re.findall(r"\\d+", rest)] for t, rest in rows}


def _next(pos, n, target):
    """The first move of the shortest way to bring disks 1..n onto ``target`` (None when already there)."""
    if n == 0:
        return None
    if pos[n] == target:
        return _next(pos, n - 1, target)
    spare = ({"A", "B", "C"} - {pos[n], target}).pop()
    return _next(pos, n - 1, spare) or f"[{pos[n]} {target}]"


def propose_action(obs):
    towers = _towers(obs)
    pos = {d: t for t, disks in towers.items() for d in disks}
    return _next(pos, len(pos), "C") or "[A C]"
'''
HANOI_SOLVER += """

def is_legal_action(obs, action):
    return action == propose_action(obs)
"""
"""Solves TowerOfHanoi-v0 in the fewest moves from any position (the game's default: 3 disks, 7 moves)."""


def test_one_player_protocol_scores_finished_matches_by_the_games_reward():
    (result,) = evaluate("TowerOfHanoi-v0", [AgentSpec("policy")], harness_source=HANOI_SOLVER, matches=3)
    s = result.summary()
    assert [(m.ended, m.steps, m.rewards, m.reward) for m in result.matches] == [
        ("done", 7, {"0": 1.0}, 1.0)
    ] * 3
    assert s["mean_reward"] == 1.0 and s["legal_rate"] == 1.0 and s["fallback_moves"] == 0


def test_policy_harness_beats_nothing_but_never_plays_illegally():
    (result,) = evaluate("TicTacToe-v0", [AgentSpec("policy")], harness_source=TICTACTOE, matches=4)
    s = result.summary()
    assert s["legal_rate"] == 1.0 and s["harness_failures"] == 0 and s["fallback_moves"] == 0


def test_crashing_harness_is_that_agents_failure_and_every_match_completes():
    (result,) = evaluate(
        "TicTacToe-v0", [AgentSpec("policy")], harness_source=CRASHES_ON_THIRD_MARK, matches=4
    )
    s = result.summary()
    assert s["matches"] == 4 and all(m.ended == "done" for m in result.matches)
    assert s["harness_failures"] == 4  # once per match: switched off, then the fallback plays
    assert s["fallback_moves"] > 0 and s["legal_rate"] == 1.0
    assert all("boom" in m.agent["harness_failures"][0] for m in result.matches)


def test_backbone_matrix_through_the_cli(tmp_path, capsys):
    harness = tmp_path / "harness.py"
    harness.write_text(TICTACTOE)
    with FakeOpenAIServer(lambda body: first_empty(body["messages"])) as server:
        argv = f"eval TicTacToe-v0 --agent verifier:model-a,llm:model-b --harness {harness} --matches 2"
        code = main([*argv.split(), "--base-url", server.base_url, "--out", str(tmp_path / "ev"), "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["agent"] for r in out["results"]] == ["verifier:model-a", "llm:model-b"]
    for r in out["results"]:
        assert r["legal_rate"] == 1.0 and r["wins"] + r["draws"] + r["losses"] == 2
        assert r["llm_calls"] > 0 and r["tokens"] > 0 and "cost_usd" in r
    assert {b["model"] for b in server.requests} == {"model-a", "model-b"}
    saved = load_eval(tmp_path / "ev")
    assert saved["harness"]["sha256"] and len(saved["results"][0]["match_records"]) == 2


@pytest.mark.parametrize(("flag", "sent"), [([], 1.0), (["--temperature", "0.2"], 0.2)])
def test_eval_temperature_reaches_every_llm_agent_and_is_saved(flag, sent, tmp_path, capsys):
    with FakeOpenAIServer(lambda body: first_empty(body["messages"])) as server:
        argv = "eval TicTacToe-v0 --agent llm:a --opponent llm:b --matches 2 --json"
        code = main([*argv.split(), *flag, "--base-url", server.base_url, "--out", str(tmp_path / "ev")])
    assert code == 0
    assert {b["model"] for b in server.requests} == {"a", "b"}
    assert {b["temperature"] for b in server.requests} == {sent}
    assert json.loads(capsys.readouterr().out)["temperature"] == sent
    assert load_eval(tmp_path / "ev")["results"][0]["temperature"] == sent


def test_parallel_workers_give_the_same_matches_as_one():
    def run(workers: int) -> list[tuple]:
        with FakeOpenAIServer(lambda body: first_empty(body["messages"])) as server:
            (result,) = evaluate(
                "TicTacToe-v0",
                [AgentSpec("verifier", "m")],
                harness_source=TICTACTOE,
                matches=6,
                workers=workers,
                make_llm=lambda model: make_client(model, base_url=server.base_url),
            )
        return [(m.index, m.seed, m.seat, m.steps, m.outcome, m.agent["llm_calls"]) for m in result.matches]

    one = run(1)
    assert len(one) == 6 and run(3) == one


def test_single_agent_json_has_the_fields_at_top_level(tmp_path, capsys):
    argv = "eval 2048-v0 --agent random --matches 2 --max-steps 20 --json --out"
    assert main([*argv.split(), str(tmp_path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"legal_rate", "mean_reward", "cost_usd", "llm_calls", "tokens"} <= out.keys()


def test_plain_llm_repeating_a_move_loses_on_the_illegal_move():
    with FakeOpenAIServer(lambda body: "Centre again. [4]") as server:
        (result,) = evaluate(
            "TicTacToe-v0",
            [AgentSpec("llm", "m")],
            matches=2,
            make_llm=lambda model: make_client(model, base_url=server.base_url),
        )
    s = result.summary()
    assert s["losses"] == 2 and s["illegal_moves"] == 2  # one per match: the illegal move ends it
    assert s["legal_rate"] == (s["moves"] - 2) / s["moves"] < 1
    assert all(m.ended == "illegal" and m.reason for m in result.matches)


def test_llm_error_stops_early_but_keeps_what_was_played(tmp_path):
    with FakeOpenAIServer(lambda body: error_reply(401, "bad key")) as server:
        results = evaluate(
            "TicTacToe-v0",
            [AgentSpec("llm", "m")],
            matches=2,
            make_llm=lambda model: make_client(model, base_url=server.base_url, api_key="k"),
        )
    assert results[0].aborted and "LLMAuthError" in results[0].aborted and results[0].matches == []
    save_eval(tmp_path, results, harness_path=None, harness_source=None)
    assert load_eval(tmp_path)["results"][0]["aborted"] == results[0].aborted


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (  # no --harness and no library has one (filter mode: the shipped campaign has none)
            ["eval", "TicTacToe-v0", "--agent", "filter:m", "--library", "/nonexistent/library"],
            "no harness for TicTacToe-v0 usable by filter:m (filter mode)",
        ),
        (["eval", "TicTacToe-v0", "--agent", "random", "--harness", "/nonexistent"], "cannot read harness"),
        (["eval", "Chess-v1", "--agent", "random"], "unknown game"),
        (["eval", "2048-v0", "--agent", "random", "--opponent", "random"], "1-player game"),
        (["eval", "TicTacToe-v0", "--agent", "random", "--matches", "0"], "must be ≥ 1"),
        (["eval", "TicTacToe-v0", "--agent", "random", "--workers", "0"], "--workers"),
        (["eval", "TicTacToe-v0", "--agent", "llm:m", "--temperature", "-1"], "--temperature must be in"),
        (["play", "TicTacToe-v0", "--seat", "2"], "--seat"),
    ],
)
def test_bad_input_exits_2_with_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err


def test_play_lets_a_person_play_in_the_terminal(monkeypatch, capsys):
    moves = io.StringIO("".join(f"{i}\n" for i in range(9)) * 3)  # first free square, whatever is taken
    monkeypatch.setattr("sys.stdin", moves)
    assert main(["play", "TicTacToe-v0", "--opponent", "random"]) == 0
    out = capsys.readouterr().out
    assert "Current Board" in out and "game over after" in out


def test_wins_and_losses_by_forfeit_are_told_apart_from_play(tmp_path, capsys):
    """LinesOfAction: a rules-correct policy against an opponent that only plays an illegal move wins every
    match by forfeit, none by play; the same opponent in the agent's seat loses every match by forfeit."""
    with FakeOpenAIServer(lambda body: "[z9z9]") as server:

        def make_llm(model):
            return make_client(model, base_url=server.base_url)

        (won,) = evaluate(
            "LinesOfAction-v0",
            [AgentSpec("policy")],
            opponent=AgentSpec("llm", "bad"),
            harness_source=LINES_OF_ACTION_POLICY,
            matches=4,
            make_llm=make_llm,
        )
        (lost,) = evaluate(
            "LinesOfAction-v0",
            [AgentSpec("llm", "bad")],
            opponent=AgentSpec("policy"),
            harness_source=LINES_OF_ACTION_POLICY,
            matches=4,
            make_llm=make_llm,
        )
    w, lo = won.summary(), lost.summary()
    assert (w["wins"], w["wins_by_forfeit"], w["wins_by_play"], w["opponent_forfeits"]) == (4, 4, 0, 4)
    assert (w["losses_by_forfeit"], w["forfeits"], w["legal_rate"]) == (0, 0, 1.0)
    assert {m.forfeit for m in won.matches} == {"opponent"}
    assert (lo["losses"], lo["losses_by_forfeit"], lo["losses_by_play"], lo["forfeits"]) == (4, 4, 0, 4)
    assert {m.forfeit for m in lost.matches} == {"agent"}
    assert wdl_text(w) == "4/0/0 (4 W by opponent's forfeit)"
    save_eval(tmp_path, [won], harness_path=None, harness_source=LINES_OF_ACTION_POLICY)
    assert load_eval(tmp_path)["results"][0]["wins_by_forfeit"] == 4
    table = results_table([won, lost])
    assert [c.header for c in table.columns][2:4] == ["W/D/L", "by forfeit W/L"]
    assert list(table.columns[3].cells) == ["4/0", "0/4"] and "by forfeit" in str(table.caption)
