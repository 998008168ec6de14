"""``autoharness verify`` on real games: a correct harness passes, rare mistakes are caught with examples."""

from __future__ import annotations

import json
import random
from importlib import resources
from pathlib import Path

import pytest

from autoharness.cli import main
from autoharness.envs import make
from autoharness.envs.base import legal_moves_of
from autoharness.llm import read_transcript
from autoharness.llm.extract import extract_code
from autoharness.sandbox import WorkerPool
from autoharness.verify import check_position, verify_harness, wilson
from tests.learn import tictactoe as ttt

GOOD = extract_code(ttt.GOOD)

RARE_FALSE_ACCEPT = GOOD.replace(
    "return bool(m) and m.group(1) in _free(obs)",
    'return bool(m) and (m.group(1) in _free(obs) or (m.group(1) == "8" and len(_free(obs)) == 2))',
)
"""Accepts cell 8 when two cells are left, even if 8 is taken: only in a few late positions."""

RARE_FALSE_REJECT = GOOD.replace(
    "return bool(m) and m.group(1) in _free(obs)",
    'return bool(m) and m.group(1) in _free(obs) and not (m.group(1) == "4" and len(_free(obs)) == 6)',
)
"""Rejects the centre after exactly three moves, when it is still free."""

TRANSCRIPTS = Path(str(resources.files("autoharness").joinpath("data", "transcripts")))


def bundled_code(name: str) -> str:
    """The last harness written in a bundled transcript (read, never edited)."""
    return extract_code(read_transcript(TRANSCRIPTS / f"{name}.jsonl")[-1].text)


def test_mutations_apply() -> None:
    assert GOOD != RARE_FALSE_ACCEPT and GOOD != RARE_FALSE_REJECT


def test_a_correct_tictactoe_harness_passes_with_zero_disagreements() -> None:
    report = verify_harness("TicTacToe-v0", GOOD, positions=150)
    d = report.to_dict()
    assert d["positions"] == 150 and d["disagreements"] == 0 and report.passed
    assert d["false_accepts"] == d["false_rejects"] == 0 and d["counterexamples"] == []
    # legal and illegal candidates were both asked about: precision and recall rest on real counts
    assert d["precision"]["n"] > 150 and d["actions_checked"] > d["precision"]["n"]
    assert d["precision"]["value"] == d["recall"]["value"] == 1.0 and d["precision"]["low"] > 0.97
    assert d["seeds"][0] >= 1_000_000  # evaluation seeds, never training seeds


def test_a_rare_false_accept_is_caught_with_the_smallest_counterexample() -> None:
    report = verify_harness("TicTacToe-v0", RARE_FALSE_ACCEPT, positions=300)
    assert report.false_accepts > 0 and report.false_rejects == 0 and not report.passed
    assert report.disagreements == report.false_accepts
    example = report.counterexamples[0]
    assert example["kind"] == "false_accept" and example["action"] == "[8]"
    assert example["harness_said"] is True and example["game_said"] == "illegal" and example["reason"]
    board = example["observation"].rsplit("Current Board:", 1)[-1]
    assert "8" not in board  # cell 8 really is taken in the position shown
    assert report.precision.value is not None and report.precision.value < 1.0
    assert report.recall.value == 1.0
    # deduplicated: one counterexample per distinct (kind, action, reason)
    keys = [(e["kind"], e["action"], e["reason"]) for e in report.counterexamples]
    assert len(keys) == len(set(keys))


def test_a_rare_false_reject_is_caught() -> None:
    report = verify_harness("TicTacToe-v0", RARE_FALSE_REJECT, positions=300)
    assert report.false_rejects > 0 and report.false_accepts == 0
    example = report.counterexamples[0]
    assert example["kind"] == "false_reject" and example["action"] == "[4]"
    assert example["harness_said"] is False and example["game_said"] == "legal"
    assert report.recall.value is not None and report.recall.value < 1.0


def test_workers_do_not_change_the_result() -> None:
    one = verify_harness("TicTacToe-v0", RARE_FALSE_ACCEPT, positions=120).to_dict()
    two = verify_harness("TicTacToe-v0", RARE_FALSE_ACCEPT, positions=120, workers=2).to_dict()
    drop = {"seconds", "positions_per_second", "workers"}
    assert {k: v for k, v in one.items() if k not in drop} == {k: v for k, v in two.items() if k not in drop}


def test_filter_mode_finds_missing_and_illegal_listed_moves() -> None:
    short = verify_harness("TicTacToe-v0", extract_code(ttt.FILTER_SHORT), "filter", positions=60)
    assert short.missing_legal > 0 and short.listed_illegal == 0
    assert {e["kind"] for e in short.counterexamples} >= {"missing_legal"}
    every = verify_harness("TicTacToe-v0", extract_code(ttt.FILTER_ALL), "filter", positions=60)
    assert every.listed_illegal > 0 and not every.passed
    good = verify_harness("TicTacToe-v0", extract_code(ttt.FILTER_GOOD), "filter", positions=60)
    assert good.passed


def test_policy_mode_counts_illegal_proposals_verifier_mode_leaves_them_to_the_checker() -> None:
    stuck = extract_code(ttt.STUCK_PROPOSER)  # always proposes the centre; its checker is right
    policy = verify_harness("TicTacToe-v0", stuck, "policy", positions=40)
    assert policy.illegal_proposals > 0 and policy.disagreements == policy.illegal_proposals
    assert policy.counterexamples[0]["kind"] == "illegal_proposal"
    verifier = verify_harness("TicTacToe-v0", stuck, "verifier", positions=40)
    assert verifier.illegal_proposals > 0 and verifier.passed  # the checker rejected every one of them


def test_a_crashing_checker_is_a_disagreement_not_an_abort() -> None:
    header = "def is_legal_action(obs, action):"
    crashing = GOOD.replace(header, header + "\n    1 / 0")
    report = verify_harness("TicTacToe-v0", crashing, positions=10)
    assert report.harness_failures > 0 and not report.passed
    assert "ZeroDivisionError" in report.counterexamples[0]["harness_said"]


def _position(game: str, moves: list[str]):
    env = make(game)
    turn = env.reset(1_000_000)
    for move in moves:
        turn = env.step(move).next
    return env, turn


def test_chess_en_passant_omission_is_caught() -> None:
    chess = bundled_code("Chess-v0-verifier")
    no_en_passant = chess.replace('elif q == "." and ep == (r1, ff):', "elif False:")
    assert no_en_passant != chess
    env, turn = _position("Chess-v0", ["[e2e4]", "[a7a6]", "[e4e5]", "[d7d5]"])
    assert "[e5d6]" in legal_moves_of(env)
    with WorkerPool(1) as pool:
        for source, wrong in ((chess, 0), (no_en_passant, 1)):
            with pool.session(source, "verifier") as session:
                where = {"seed": 1_000_000, "ply": 4, "style": "test"}
                result, _, _ = check_position(env, turn, session, "verifier", random.Random(0), {}, where)
            assert result.fn == wrong and result.fp == 0
    example = result.counterexamples[0]
    assert example["kind"] == "false_reject" and example["action"] == "[e5d6]"


def test_othello_pass_mishandled_is_caught() -> None:
    othello = bundled_code("Othello-v0-verifier")
    marker = "        # and accepts whatever move is submitted.\n        return True"
    no_pass = othello.replace(marker, "        return False")
    assert no_pass != othello
    rng = random.Random(3)
    for seed in range(1_000_000, 1_000_050):  # random games until the player to move must pass
        env = make("Othello-v0")
        turn = env.reset(seed)
        while not env.clone().step("[zz]").legal:  # a pass: the game takes any action
            step = env.step(rng.choice(legal_moves_of(env)))
            if step.done:
                break
            turn = step.next
        else:
            break
    assert "No valid moves" in turn.observation
    with WorkerPool(1) as pool:
        for source, wrong in ((othello, False), (no_pass, True)):
            with pool.session(source, "verifier") as session:
                where = {"seed": seed, "ply": 0, "style": "test"}
                result, _, legal = check_position(env, turn, session, "verifier", random.Random(0), {}, where)
            assert legal and (result.fn > 0) is wrong and result.fp == 0  # any action passes here
    assert result.counterexamples[0]["game_said"] == "legal"


def test_wilson_interval() -> None:
    interval = wilson(95, 100)
    assert interval.value == 0.95 and interval.low == pytest.approx(0.8882, abs=1e-4)
    assert interval.high == pytest.approx(0.9785, abs=1e-4)
    assert wilson(0, 0).value is None and wilson(10, 10).high == 1.0


def test_batch_answers_every_call_in_order_in_one_round_trip() -> None:
    with WorkerPool(1) as pool, pool.session(GOOD, "verifier") as session:
        obs = make("TicTacToe-v0").reset(1_000_000).observation
        calls = [("propose_action", [obs]), ("is_legal_action", [obs, "[4]"])]
        calls.append(("is_legal_action", [obs, "x"]))
        assert session.batch(calls) == ["[0]", True, False]


def test_cli_exit_status_gates_ci(tmp_path, capsys) -> None:
    good, bad = tmp_path / "good.py", tmp_path / "bad.py"
    good.write_text(GOOD)
    bad.write_text(RARE_FALSE_ACCEPT)
    assert main(["verify", "TicTacToe-v0", "--harness", str(good), "--positions", "40", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    for key in ("positions", "actions_checked", "false_accepts", "false_rejects", "disagreements"):
        assert key in payload
    assert {"value", "low", "high"} <= set(payload["precision"]) and "counterexamples" in payload
    assert main(["verify", "TicTacToe-v0", "--harness", str(bad), "--positions", "300"]) == 1
    out = capsys.readouterr().out
    assert "false accept" in out and "counterexample 1" in out and "[8]" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["verify", "TicTacTo-v0", "--harness", "X"],
        ["verify", "TicTacToe-v0", "--harness", "/nonexistent/harness.py"],
        ["verify", "TicTacToe-v0", "--harness", "HARNESS", "--positions", "0"],
        ["verify", "TicTacToe-v0", "--harness", "HARNESS", "--workers", "0"],
    ],
)
def test_cli_bad_input_is_one_line_exit_2(argv, tmp_path, capsys) -> None:
    harness = tmp_path / "h.py"
    harness.write_text(GOOD)
    assert main([str(harness) if a == "HARNESS" else a for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("autoharness: error:") and len(err.strip().splitlines()) == 1


def test_cli_a_harness_that_does_not_load_fails_verification(tmp_path, capsys) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("def propose_action(obs):\n    return '[0]'\n")  # no is_legal_action
    assert main(["verify", "TicTacToe-v0", "--harness", str(broken), "--positions", "5", "--json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert payload["load_failure"] and payload["passed"] is False and payload["positions"] == 0


def test_a_hanging_checker_costs_one_time_limit_per_position_and_stops_verification() -> None:
    from autoharness.sandbox import SandboxLimits

    header = "def is_legal_action(obs, action):"
    hanging = GOOD.replace(header, header + "\n    while action == '[8]':\n        pass")
    report = verify_harness("TicTacToe-v0", hanging, positions=50, limits=SandboxLimits(call_timeout=0.5))
    assert report.timeouts == 3 and report.stopped and not report.passed
    assert report.harness_failures >= 1 and "timeout" in report.counterexamples[0]["harness_said"]
    assert "stopped early" in report.headline()


def test_a_sleeping_proposer_is_bounded_by_a_count_of_timeouts_not_by_a_clock() -> None:
    """Without a wall-time budget (learn, suite), a harness that sleeps stops verification after
    MAX_TIMEOUTS hangs, wherever it hangs: at checked positions or at plies only played through."""
    import time

    from autoharness.sandbox import SandboxLimits

    header = "def propose_action(obs):"
    sleeping = "import time\n" + GOOD.replace(header, header + "\n    time.sleep(60)")
    started = time.monotonic()
    report = verify_harness("TicTacToe-v0", sleeping, positions=300, limits=SandboxLimits(call_timeout=0.3))
    assert report.timeouts == 3 and "stopped early" in report.headline() and not report.passed
    assert time.monotonic() - started < 60


def test_a_game_with_few_distinct_positions_stops_when_games_show_no_new_one(monkeypatch) -> None:
    """IteratedMatchingPennies-v0 shows 10 distinct observations: verification stops after STALE_GAMES games
    in a row without a new one (a count: the same on any machine), not at the games cap hundreds of games
    later, and says why it has fewer positions than asked."""
    import autoharness.verify as verify

    monkeypatch.setattr(verify, "STALE_GAMES", 5, raising=False)
    code = "def is_legal_action(obs, action):\n    return action in ('[heads]', '[tails]')\n"
    code += "def propose_action(obs):\n    return '[heads]'\n"
    report = verify_harness("IteratedMatchingPennies-v0", code, positions=30)
    assert report.passed and 0 < report.positions < 30 and report.games < 20
    assert "no new position in the last 5 games" in report.headline()


def test_a_time_budget_stops_early_and_says_so() -> None:
    report = verify_harness("TicTacToe-v0", GOOD, positions=2000, max_seconds=0.01)
    assert 0 < report.positions < 2000 and report.passed
    assert "time budget spent" in report.headline() and report.to_dict()["stopped"]


def test_reusing_legal_move_sets_of_positions_met_again_changes_nothing(monkeypatch) -> None:
    """TowerOfHanoi-v0 has no move list: each checked position's legal moves are probed, and its games
    meet the same positions again and again. With the memo (``envs.actions._KNOWN``) and moves tried on
    pickled copies (``scratches``) the report is the very same as with every position probed afresh on deep
    copies: positions, games, actions, counterexamples."""
    from autoharness.envs import actions

    source = bundled_code("TowerOfHanoi-v0-verifier")
    drop = {"seconds", "positions_per_second"}
    reports = []
    for size, scratches_from in ((0, 0), (4096, 16)):  # the old way, then the new (pickled copies too)
        monkeypatch.setattr(actions, "KNOWN_SIZE", size)
        monkeypatch.setattr(actions, "SCRATCHES_FROM", scratches_from)
        reports.append(verify_harness("TowerOfHanoi-v0", source, positions=25, seed=3).to_dict())
    fresh, reused = reports
    assert fresh["positions"] == 25 and fresh["games"] > 5
    assert {k: v for k, v in reused.items() if k not in drop} == {
        k: v for k, v in fresh.items() if k not in drop
    }


def test_what_the_process_played_before_does_not_change_the_result() -> None:
    """In games without a move list random play probes candidates, trying first the kinds that produced
    moves before, which steers the pick: when that record was the process's, the campaign's Chopsticks-v0
    verification and a replay's (other games in each worker) differed in games and actions checked, so the
    counterexample prompt built from them did too and the replay stopped with a ``ReplayMiss``. Each
    verification game keeps its own record (``envs.actions.SpaceRecord``): training before, the games
    another worker played, or one worker instead of two change nothing. (Chopsticks now lists its moves
    from its state; ConnectFour is still probed.)"""
    from autoharness.envs import actions

    game, source = "ConnectFour-v0", _ACCEPT_ALL
    drop = {"seconds", "positions_per_second", "workers"}
    fresh = verify_harness(game, source, positions=30).to_dict()
    rng, record = random.Random(1), actions.SpaceRecord()
    for seed in range(4):  # random play first, as training's rollouts and earlier games would
        env = make(game)
        turn = env.reset(seed)
        for _ in range(40):
            move = actions.random_legal_action(env, rng, turn.observation, record)
            step = env.step(move) if move is not None else None
            if step is None or step.done or step.next is None:
                break
            turn = step.next
    assert record.counts(game)  # the record of that play, which the verification games must not share
    after = verify_harness(game, source, positions=30).to_dict()
    assert fresh["positions"] == 30 and fresh["games"] >= 2
    expected = {k: v for k, v in fresh.items() if k not in drop}
    assert {k: v for k, v in after.items() if k not in drop} == expected
    two = verify_harness(game, source, positions=30, workers=2).to_dict()
    assert {k: v for k, v in two.items() if k not in drop} == expected


_ACCEPT_ALL = """
def propose_action(obs):
    return "[col 3]"


def is_legal_action(obs, action):
    return True
"""
