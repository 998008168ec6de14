"""The paper's evaluation protocol on real games, through the Python API and the ``eval``/``play`` CLI."""

from __future__ import annotations

import hashlib
import io
import json
import re
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from autoharness.cli import main
from autoharness.errors import ConfigError
from autoharness.evaluate import (
    FORFEIT_NOTE,
    AgentSpec,
    EvalResult,
    check_out,
    default_out,
    evaluate,
    load_eval,
    load_harness,
    match_plan,
    play,
    results_table,
    save_eval,
    wdl_text,
)
from autoharness.llm import make_client
from tests.harnesses import LINES_OF_ACTION_POLICY, SLOW_POLICY
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
        ("gpt", "unknown agent 'gpt': use one of random, policy, llm:MODEL, verifier:MODEL, filter:MODEL"),
        ("verifier", "agent 'verifier' needs a model: verifier:MODEL"),
        ("policy:gpt-4o", "agent 'policy' takes no model (got 'policy:gpt-4o')"),
        (",", "--agent needs at least one agent spec"),
    ],
)
def test_bad_agent_specs_are_one_clear_error(text, message):
    with pytest.raises(ConfigError) as caught:
        AgentSpec.parse_list(text)
    assert str(caught.value) == message


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
    assert {(m.ended, m.steps) for m in result.matches} == {("step_cap", 60)} and s["cut"] == 3
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
        agents = "verifier:model-a,llm:model-b,filter:model-c"
        argv = f"eval TicTacToe-v0 --agent {agents} --harness {harness} --matches 2"
        code = main([*argv.split(), "--base-url", server.base_url, "--out", str(tmp_path / "ev"), "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["agent"] for r in out["results"]] == ["verifier:model-a", "llm:model-b", "filter:model-c"]
    for r in out["results"]:
        assert r["legal_rate"] == 1.0 and r["wins"] + r["draws"] + r["losses"] == 2
        assert r["llm_calls"] > 0 and r["tokens"] > 0 and "cost_usd" in r
    assert {b["model"] for b in server.requests} == {"model-a", "model-b", "model-c"}
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
    assert all(
        m.steps == m.agent["moves"] + m.opponent["moves"] for m in result.matches
    )  # the illegal one too


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
    assert w.keys() == SUMMARY_FIELDS | TWO_PLAYER_FIELDS
    assert (w["win_rate"], w["draw_rate"], w["loss_rate"]) == (1.0, 0.0, 0.0)
    assert (lo["win_rate"], lo["draw_rate"], lo["loss_rate"]) == (0.0, 0.0, 1.0)
    assert (w["wins"], w["wins_by_forfeit"], w["wins_by_play"], w["opponent_forfeits"]) == (4, 4, 0, 4)
    assert (w["losses_by_forfeit"], w["forfeits"], w["legal_rate"]) == (0, 0, 1.0)
    assert {m.forfeit for m in won.matches} == {"opponent"}
    assert (lo["losses"], lo["losses_by_forfeit"], lo["losses_by_play"], lo["forfeits"]) == (4, 4, 0, 4)
    assert {m.forfeit for m in lost.matches} == {"agent"}
    # The policy (seat 1 in half the matches) moved before the bad model's illegal move there: 2 moves, legal.
    assert (lo["moves"], lo["illegal_moves"], lo["opponent_legal_rate"]) == (4, 4, 1.0)
    assert wdl_text(w) == "4/0/0 (4 W by opponent's forfeit)"
    save_eval(tmp_path, [won], harness_path=None, harness_source=LINES_OF_ACTION_POLICY)
    assert load_eval(tmp_path)["results"][0]["wins_by_forfeit"] == 4
    table = results_table([won, lost])
    assert [c.header for c in table.columns][2:4] == ["W/D/L", "by forfeit W/L"]
    assert list(table.columns[3].cells) == ["4/0", "0/4"] and "by forfeit" in str(table.caption)


# --- What is printed and saved: the table, W/D/L, eval.json, --out and --harness paths (exact texts) ---

TABLE_TAIL = ["LLM calls", "tokens", "USD", "caught", "fallbacks", "harness fails"]


def _rows(table) -> list[list[str]]:
    return [list(row) for row in zip(*(c.cells for c in table.columns), strict=True)]


def test_one_player_table_shows_each_agents_figures_in_its_own_column():
    """TowerOfHanoi cut at 6 plies (7 solve it): the solver is 2 disks of 3 home (2/3), random none."""
    results = evaluate(
        "TowerOfHanoi-v0",
        [AgentSpec("policy"), AgentSpec("random")],
        harness_source=HANOI_SOLVER,
        matches=2,
        max_steps=6,
    )
    table = results_table(results)
    assert table.title == "TowerOfHanoi-v0: 2 matches per agent" and table.caption == FORFEIT_NOTE
    one_player = ["agent", "legal rate", "mean reward", "forfeits", "cut"]
    assert [c.header for c in table.columns] == [*one_player, *TABLE_TAIL]
    assert [c.justify for c in table.columns] == ["left"] + ["right"] * 10  # numbers line up on the right
    assert _rows(table) == [
        ["policy", "1.000", "0.667", "0", "2", "0", "0", "0.0000", "0", "0", "0"],
        ["random", "1.000", "0.000", "0", "2", "0", "0", "0.0000", "0", "0", "0"],
    ]


def test_two_player_table_marks_an_agent_stopped_early_and_fills_every_cell():
    """An agent whose endpoint refused (401) played nothing: its row says so and shows no rate (—)."""
    with FakeOpenAIServer(lambda body: error_reply(401, "bad key")) as server:
        results = evaluate(
            "TicTacToe-v0",
            [AgentSpec("policy"), AgentSpec("llm", "m")],
            harness_source=CRASHES_ON_THIRD_MARK,
            matches=2,
            make_llm=lambda model: make_client(model, base_url=server.base_url, api_key="k"),
        )
    policy, stopped = (r.summary() for r in results)
    assert stopped["aborted"] and stopped["matches"] == 0 and policy["matches"] == 2
    table = results_table(results)
    assert table.title == "TicTacToe-v0 vs random: 2 matches per agent"  # the first agent's count
    assert [c.header for c in table.columns] == [
        "agent",
        "legal rate",
        "W/D/L",
        "by forfeit W/L",
        *TABLE_TAIL,
    ]
    assert [c.justify for c in table.columns] == ["left"] + ["right"] * 9
    wdl = f"{policy['wins']}/{policy['draws']}/{policy['losses']}"
    fallbacks = str(policy["fallback_moves"])
    assert policy["fallback_moves"] > 0 and policy["harness_failures"] == 2
    assert _rows(table) == [
        ["policy", "1.000", wdl, "0/0", "0", "0", "0.0000", "0", fallbacks, "2"],
        ["llm:m [red](stopped early)[/]", "—", "0/0/0", "0/0", "0", "0", "0.0000", "0", "0", "0"],
    ]


def test_table_says_what_the_time_budget_left_unplayed():
    """A 2048 game with a 0.1 s policy move outlasts a 1 s budget: on two workers, each worker's match is cut
    (on a starved machine a worker may find the budget spent before its match began: not started)."""
    watches = []
    (result,) = evaluate(
        "2048-v0",
        [AgentSpec("policy")],
        harness_source=SLOW_POLICY,
        matches=2,
        workers=2,
        eval_seconds=1,
        on_progress=watches.append,
    )
    assert result.matches == [] and result.time_cut >= 1 and result.time_cut + result.not_started == 2
    watch = watches[-1]  # the live counters agree with the result, and saw the harness's calls
    assert (watch.label, watch.games, watch.cut, watch.finished) == ("policy", 2, result.time_cut, 0)
    assert watch.steps > 0
    assert watch.slowest is not None and watch.slowest[1] == "propose_action" and watch.slowest[0] >= 0.1
    note = " [yellow](--eval-seconds {}: {} cut, {} not started; not played)[/]"

    def agent_cell() -> str:
        return next(iter(results_table([result]).columns[0].cells))

    assert agent_cell() == "policy" + note.format("1", result.time_cut, result.not_started)
    assert list(results_table([result]).columns[2].cells) == ["—"]  # no mean reward: nothing was played
    result.time_cut, result.not_started, result.eval_seconds = 2, 1, 0.05
    assert agent_cell() == "policy" + note.format("0.05", 2, 1)
    result.time_cut, result.not_started = 0, 3  # budget spent before the first match began
    assert agent_cell() == "policy" + note.format("0.05", 0, 3)
    result.time_cut, result.not_started = 1, 0  # the last match was cut
    assert agent_cell() == "policy" + note.format("0.05", 1, 0)
    result.time_cut = 0  # nothing unplayed: no note, even with a budget
    assert agent_cell() == "policy"


def test_wdl_text_names_every_kind_of_non_played_result():
    (cut,) = evaluate("TicTacToe-v0", [AgentSpec("random")], matches=2, max_steps=3)
    assert wdl_text(cut.summary()) == "0/2/0 (2 D cut at the step cap)"
    summary = {"wins": 3, "draws": 2, "losses": 4, "wins_by_forfeit": 1, "losses_by_forfeit": 2}
    summary |= {"cut": 5, "dead_positions": 6}
    assert wdl_text(summary) == (
        "3/2/4 (1 W by opponent's forfeit; 2 L by own forfeit; 5 D cut at the step cap; "
        "6 no result: no legal move existed (game defect))"
    )
    assert (
        wdl_text({"wins": 1, "draws": 0, "losses": 2, "losses_by_forfeit": 2}) == "1/0/2 (2 L by own forfeit)"
    )
    assert wdl_text({"wins": 2, "draws": 1, "losses": 1}) == "2/1/1"  # an eval.json from before forfeits


SUMMARY_FIELDS = {
    "game", "agent", "opponent", "num_players", "temperature", "matches", "seeds", "legal_rate", "moves",
    "illegal_moves", "mean_reward", "caught", "retry_exhausted", "fallback_moves", "harness_failures",
    "llm_calls", "prompt_tokens", "completion_tokens", "cost_usd", "provenance", "opponent_legal_rate",
    "opponent_cost_usd", "aborted", "eval_seconds", "time_cut", "not_started", "tokens", "cut",
    "dead_positions", "forfeits", "opponent_forfeits",
}  # fmt: skip
"""Every field of a 1-player summary; a 2-player one adds W/D/L, their rates and the forfeit split."""
TWO_PLAYER_FIELDS = {"wins", "draws", "losses", "win_rate", "draw_rate", "loss_rate"} | {
    "wins_by_forfeit", "losses_by_forfeit", "wins_by_play", "losses_by_play",
}  # fmt: skip


def test_saved_eval_json_has_the_documented_header(tmp_path):
    (result,) = evaluate("TowerOfHanoi-v0", [AgentSpec("policy")], harness_source=HANOI_SOLVER, matches=1)
    harness = tmp_path / "harness.py"
    before = datetime.now(UTC).replace(microsecond=0)
    path = save_eval(tmp_path / "a" / "b", [result], harness_path=harness, harness_source=HANOI_SOLVER)
    assert path == tmp_path / "a" / "b" / "eval.json"  # missing parents are made
    text = path.read_text(encoding="utf-8")
    assert text.startswith('{\n  "kind": "eval",\n  "version": 1,\n')  # indented for people too
    saved = json.loads(text)
    created = datetime.fromisoformat(saved.pop("created"))
    assert created.tzinfo is not None and before <= created <= datetime.now(UTC)
    assert saved == {
        "kind": "eval",
        "version": 1,
        "game": "TowerOfHanoi-v0",
        "eval_seed_start": 1_000_000,
        "harness": {"path": str(harness), "sha256": hashlib.sha256(HANOI_SOLVER.encode()).hexdigest()},
        "results": [json.loads(json.dumps(result.to_dict()))],
    }
    assert load_eval(tmp_path / "a" / "b") == json.loads(text)
    # What `report` and `--json` readers look up: each field by its name (a rename breaks every reader).
    first = {k: v for k, v in saved["results"][0].items() if k != "match_records"}
    assert first.keys() == SUMMARY_FIELDS
    assert (first["dead_positions"], first["forfeits"], first["time_cut"]) == (0, 0, 0)
    assert {k: first[k] for k in ("game", "agent", "opponent", "num_players", "matches", "seeds")} == {
        "game": "TowerOfHanoi-v0",
        "agent": "policy",
        "opponent": None,
        "num_players": 1,
        "matches": 1,
        "seeds": [1_000_000],
    }
    assert (first["retry_exhausted"], first["mean_reward"], first["tokens"], first["cut"]) == (0, 1.0, 0, 0)
    save_eval(tmp_path / "c", [result], harness_path=None, harness_source=HANOI_SOLVER)
    assert load_eval(tmp_path / "c")["harness"]["path"] is None  # source given, no file: no path
    save_eval(tmp_path / "d", [], harness_path=None, harness_source=None)
    assert {k: v for k, v in load_eval(tmp_path / "d").items() if k != "created"} == {
        "kind": "eval",
        "version": 1,
        "game": None,
        "eval_seed_start": 1_000_000,
        "harness": None,
        "results": [],
    }


def test_results_that_cannot_be_saved_go_to_the_temp_dir_or_else_to_stdout(tmp_path, monkeypatch, capsys):
    (result,) = evaluate("TicTacToe-v0", [AgentSpec("random")], matches=2)
    out = tmp_path / "ev"
    (out / "eval.json").mkdir(parents=True)  # the write fails (as on a full disk) after the matches
    with pytest.raises(ConfigError) as caught:
        save_eval(out, [result], harness_path=None, harness_source=None)
    message = str(caught.value)
    found = re.fullmatch(
        rf"cannot write {re.escape(str(out / 'eval.json'))}: Is a directory; "
        rf"the results were saved to ({re.escape(tempfile.gettempdir())}/"
        r"autoharness-ev-[0-9a-f]{8}\.eval\.json) instead",
        message,
    )
    assert found, message
    kept = Path(found.group(1))
    try:
        assert json.loads(kept.read_text())["results"] == [json.loads(json.dumps(result.to_dict()))]
    finally:
        kept.unlink()
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("")
    monkeypatch.setattr(tempfile, "tempdir", str(blocked))  # the temp dir cannot be written either
    with pytest.raises(ConfigError) as caught:
        save_eval(out, [result], harness_path=None, harness_source=None)
    assert str(caught.value) == (
        f"cannot write {out / 'eval.json'}: Is a directory; the results were printed on stdout above"
    )
    printed = capsys.readouterr().out
    assert printed.endswith("}\n") and json.loads(printed)["results"][0]["matches"] == 2


def test_check_out_makes_the_directory_and_names_what_is_wrong(tmp_path):
    out = tmp_path / "new" / "eval"
    check_out(out)
    assert out.is_dir() and list(out.iterdir()) == []  # made, and the write probe removed
    afile = tmp_path / "file"
    afile.write_text("")
    with pytest.raises(ConfigError) as caught:
        check_out(afile)
    assert str(caught.value) == f"--out {afile} is a file: give a directory for eval.json"
    with pytest.raises(ConfigError) as caught:
        check_out(afile / "eval")
    assert str(caught.value) == f"cannot write to --out {afile / 'eval'}: Not a directory"


def test_load_harness_reads_a_file_or_a_learn_runs_harness_py(tmp_path):
    (tmp_path / "harness.py").write_text("# é\n" + TICTACTOE, encoding="utf-8")
    assert load_harness(tmp_path) == (tmp_path / "harness.py", "# é\n" + TICTACTOE)
    assert load_harness(tmp_path / "harness.py") == (tmp_path / "harness.py", "# é\n" + TICTACTOE)
    with pytest.raises(ConfigError, match=r"^cannot read harness .*/missing\.py: "):
        load_harness(tmp_path / "missing.py")


def test_load_eval_names_the_file_it_cannot_read(tmp_path):
    (tmp_path / "eval.json").write_text("{not json")
    with pytest.raises(ConfigError) as caught:
        load_eval(tmp_path)
    assert str(caught.value).startswith(f"cannot read eval results {tmp_path / 'eval.json'}: Expecting")


def test_default_out_is_stamped_in_utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC-9")  # local time 9 h ahead: a local stamp would be wrong by 9 h
    time.tzset()
    try:
        out = default_out("TicTacToe-v0")
    finally:
        monkeypatch.undo()
        time.tzset()
    assert out.parent == Path("runs") and out.name.startswith("eval-TicTacToe-v0-")
    stamp = datetime.strptime(out.name.removeprefix("eval-TicTacToe-v0-"), "%Y%m%d-%H%M%S").replace(
        tzinfo=UTC
    )
    assert abs(datetime.now(UTC) - stamp) < timedelta(minutes=5)


# --- play: one match for a person at the terminal ---


class Person:
    """A scripted person: each move is the first free square of the board last shown, except that on the
    second turn it first retries the centre (taken) and, warned by the harness, takes it back."""

    def __init__(self) -> None:
        self.shown: list[str] = []
        self.asked: list[str] = []

    def write(self, text: str) -> None:
        self.shown.append(text)

    def read(self, prompt: str) -> str:
        self.asked.append(prompt)
        if prompt.startswith("The harness says"):
            return "n"
        if sum(p.startswith("player") for p in self.asked) == 2:
            return "4"
        return re.search(r"\[(\d)\]", first_empty([{"role": "user", "content": self.shown[-1]}])).group(1)


def test_play_seats_the_person_first_against_random_and_the_harness_warns():
    person = Person()
    record = play("TicTacToe-v0", harness_source=TICTACTOE, read=person.read, write=person.write)
    assert (record.index, record.seed, record.seat, record.ended) == (0, 1_000_000, 0, "done")
    assert record.outcome in {"win", "draw", "loss"} and record.opponent["moves"] > 0  # random answered
    warning = "The harness says [4] is illegal. Play it anyway? [y/N] "
    assert person.asked[:3] == ["player 0 move> ", "player 0 move> ", warning]
    assert person.asked.count(warning) == 1 and record.agent["caught"] == 1
    assert record.agent["legal_moves"] == record.agent["moves"]  # the warned move was not played
    assert "Current Board" in person.shown[0]


def test_play_a_one_player_game_alone_on_the_seed_given():
    solution = iter(["[A C]", "[A B]", "[C B]", "[A C]", "[B A]", "[B C]", "[A C]"])
    shown: list[str] = []
    record = play("TowerOfHanoi-v0", seed=1_000_003, read=lambda prompt: next(solution), write=shown.append)
    assert (record.seed, record.seat, record.steps, record.ended, record.reward) == (
        1_000_003,
        0,
        7,
        "done",
        1.0,
    )
    assert record.outcome is None and record.opponent is None and len(shown) == 7


def test_play_against_a_policy_or_an_llm_opponent(tmp_path):
    person = Person()
    record = play(
        "TicTacToe-v0",
        seat=1,
        opponent=AgentSpec("policy"),
        harness_source=TICTACTOE,
        read=person.read,
        write=person.write,
    )
    assert record.seat == 1 and record.opponent["moves"] > 0 and record.opponent["fallback_moves"] == 0
    with FakeOpenAIServer(lambda body: first_empty(body["messages"])) as server:
        person = Person()
        record = play(
            "TicTacToe-v0",
            opponent=AgentSpec("llm", "m"),
            make_llm=lambda model: make_client(model, base_url=server.base_url),
            read=person.read,
            write=person.write,
        )
    assert record.opponent["llm_calls"] == len(server.requests) > 0 and record.agent["caught"] == 0
    assert {b["temperature"] for b in server.requests} == {1.0}  # play's LLM opponent: the default


@pytest.mark.parametrize(
    ("game", "kwargs", "message"),
    [
        ("TicTacToe-v0", {"seat": 2}, "--seat must be in 0..1 for TicTacToe-v0"),
        ("TowerOfHanoi-v0", {"seat": 1}, "--seat must be in 0..0 for TowerOfHanoi-v0"),
        (
            "TowerOfHanoi-v0",
            {"opponent": AgentSpec("random")},
            "TowerOfHanoi-v0 is a 1-player game: --opponent does not apply",
        ),
        ("TicTacToe-v0", {"opponent": AgentSpec("llm", "m")}, "an LLM agent needs a model endpoint"),
        (
            "TicTacToe-v0",
            {"opponent": AgentSpec("policy")},
            "agent policy needs a harness: pass --harness FILE",
        ),
    ],
)
def test_play_refuses_what_cannot_run_before_the_first_move(game, kwargs, message):
    def read(prompt: str) -> str:
        raise AssertionError(f"asked for a move: {prompt}")

    with pytest.raises(ConfigError) as caught:
        play(game, read=read, write=lambda text: None, **kwargs)
    assert str(caught.value) == message


def test_the_opponents_llm_use_is_counted_apart_from_the_agents():
    seen = []
    with FakeOpenAIServer(lambda body: first_empty(body["messages"])) as server:
        (result,) = evaluate(
            "TicTacToe-v0",
            [AgentSpec("llm", "gpt-4o-mini")],
            opponent=AgentSpec("llm", "gpt-4o"),
            matches=2,
            make_llm=lambda model: make_client(model, base_url=server.base_url),
            on_match=lambda r, m: seen.append((r, m)),
        )
    assert seen == [(result, m) for m in result.matches]  # each match reported as it ends, with its result
    assert {b["temperature"] for b in server.requests} == {1.0} == {result.temperature}  # the default
    s = result.summary()
    mine = [m.agent for m in result.matches]
    theirs = [m.opponent for m in result.matches]
    assert s["llm_calls"] == sum(a["llm_calls"] for a in mine) == s["moves"]  # one call per move
    assert s["cost_usd"] == pytest.approx(sum(a["cost_usd"] for a in mine)) and s["cost_usd"] > 0
    assert s["opponent_cost_usd"] == pytest.approx(sum(o["cost_usd"] for o in theirs))
    assert s["opponent_cost_usd"] > s["cost_usd"]  # gpt-4o costs more a token than gpt-4o-mini
    assert s["completion_tokens"] > 0 and s["tokens"] == s["prompt_tokens"] + s["completion_tokens"]
    assert {b["model"] for b in server.requests} == {"gpt-4o-mini", "gpt-4o"}


@pytest.mark.parametrize(
    ("opponent", "message"),
    [
        (AgentSpec("policy"), "agent policy needs a harness: pass --harness FILE"),
        (AgentSpec("llm", "m"), "an LLM agent needs a model endpoint"),
    ],
)
def test_an_opponent_that_cannot_run_is_refused_before_any_match(opponent, message):
    with pytest.raises(ConfigError) as caught:
        evaluate("TicTacToe-v0", [AgentSpec("random")], opponent=opponent, matches=2)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"matches": 0}, "--matches must be ≥ 1"),
        ({"workers": 0}, "--workers must be ≥ 1"),
        ({"temperature": -0.01}, "--temperature must be in [0, 2] (got -0.01)"),
        ({"temperature": 2.01}, "--temperature must be in [0, 2] (got 2.01)"),
        ({"eval_seconds": 0}, "--eval-seconds must be > 0 (got 0)"),
    ],
)
def test_evaluate_refuses_bad_settings_with_the_flags_name(kwargs, message):
    """The API checks what the CLI's argument types check too (a caller of ``evaluate`` has no argparse)."""
    with pytest.raises(ConfigError) as caught:
        evaluate("TicTacToe-v0", [AgentSpec("random")], **kwargs)
    assert str(caught.value) == message


@pytest.mark.parametrize("temperature", [0.0, 2.0])
def test_evaluate_takes_the_temperature_bounds_themselves(temperature):
    (result,) = evaluate("TicTacToe-v0", [AgentSpec("random")], matches=1, temperature=temperature)
    assert result.temperature == temperature and len(result.matches) == 1


def test_a_cut_two_player_game_without_a_value_of_its_own_is_a_draw():
    """OpenSpiel games have no value for a position cut at the step cap: a draw, reward 0 (never a loss)."""
    (result,) = evaluate("openspiel:tic_tac_toe", [AgentSpec("random")], matches=2, max_steps=2)
    assert [(m.ended, m.rewards, m.reward, m.outcome) for m in result.matches] == [
        ("step_cap", None, 0.0, "draw")
    ] * 2
    assert wdl_text(result.summary()) == "0/2/0 (2 D cut at the step cap)"


def test_an_evaluation_is_reproducible_on_its_seeds():
    """2048 places its first tiles from the env seed: the same evaluation gives the same matches."""

    def run() -> list[tuple]:
        (result,) = evaluate("2048-v0", [AgentSpec("random")], matches=2, max_steps=30)
        return [(m.seed, m.steps, m.rewards, m.agent["moves"]) for m in result.matches]

    first = run()
    assert run() == first and first[0][2] != first[1][2]  # two seeds, two different games


def test_a_verifier_agent_consults_its_harness():
    """A model that repeats the centre: the harness catches every repeat, so no illegal move is played."""
    with FakeOpenAIServer(lambda body: "Centre again. [4]") as server:
        (result,) = evaluate(
            "TicTacToe-v0",
            [AgentSpec("verifier", "m")],
            harness_source=TICTACTOE,
            matches=2,
            make_llm=lambda model: make_client(model, base_url=server.base_url),
        )
    s = result.summary()
    assert s["caught"] > 0 and s["illegal_moves"] == 0 and s["fallback_moves"] > 0


def test_random_play_gives_the_same_matches_in_any_order_and_any_number_of_threads():
    """ConnectFour-v0 has no move list: random moves are found by probing candidates, trying first the kinds
    that produced moves before. That record was the process's, so a match's moves (and W/D/L) depended on
    the matches played before it and on the worker threads' timing. Each agent now keeps its record per
    match (``envs.actions.SpaceRecord``): the same matches alone, after others, or on two threads."""

    def figures(result: EvalResult) -> list[tuple[object, ...]]:
        return [(m.seed, m.seat, m.steps, m.ended, m.rewards) for m in result.matches]

    game, random_agent = "ConnectFour-v0", [AgentSpec("random")]
    alone = evaluate(game, random_agent, matches=10)[0]
    assert len(alone.matches) == 10 and {m.ended for m in alone.matches} == {"done"}
    assert figures(evaluate(game, random_agent, matches=10)[0]) == figures(alone)
    assert figures(evaluate(game, random_agent, matches=10, workers=2)[0]) == figures(alone)
