"""The reproduction tables (``autoharness results``, and the same tables in ``autoharness report``) from two
real suites: a verifier suite answered through the manual backend by a scripted responder (labelled so), and
a policy suite answered by the scripted fake endpoint."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from autoharness.cli import main
from autoharness.executors import LocalExecutor
from autoharness.learn.config import LearnConfig
from autoharness.report import write_report
from autoharness.results import markdown, suite_tables, totals_table
from autoharness.suite import SuiteConfig, SuiteManifest, run_suite, select_games
from tests.harnesses import OTHELLO_VERIFIER
from tests.llm.fake_openai import FakeOpenAIServer
from tests.test_suite import scripted_reply

VERIFIER_GAMES = "Nim-v0,Nim-v0-large,Chopsticks-v0,TowerOfHanoi-v0,Othello-v0"
LABEL = "manual: answered by the scripted test responder of tests/test_results.py"
LEARN = LearnConfig(
    n_envs=3, parallelism=1, max_iterations=1, probe_states=5, probe_actions=4, verify_positions=5
)


def reply(body: dict) -> str:
    """The scripted model of the suite tests, which also knows Othello (a 2-player evaluation game whose
    env knows its legal moves: verification needs no enumeration on clones, which takes minutes)."""
    if "game of Othello" in json.dumps(body["messages"]):
        return f"```python\n{OTHELLO_VERIFIER}```\n"
    return scripted_reply(body)


def _respond(directory: Path, stop: threading.Event) -> None:
    """Answer every manual prompt in ``directory`` with the scripted model's reply (as a helper would), once
    its ``.prompt.md`` is there: a reply written before it would be older than its prompt, so stale."""
    while not stop.wait(0.1):
        for prompt in sorted(directory.glob("*.prompt.md")):
            answer = prompt.with_name(prompt.name.replace(".prompt.md", ".reply.md"))
            if not answer.exists():
                messages = json.loads(prompt.with_suffix("").with_suffix(".prompt.json").read_text())[
                    "messages"
                ]
                answer.write_text(reply({"messages": messages}))


RUN_SUITE = """
import json, sys
from pathlib import Path
from autoharness.executors import LocalExecutor
from autoharness.suite import SuiteConfig, run_suite
executor = LocalExecutor(2)
try:
    run_suite(Path(sys.argv[2]), executor, config=SuiteConfig.from_dict(json.loads(sys.argv[1])))
finally:
    executor.close()
"""
"""Runs a suite in a fresh process, as ``autoharness suite`` does: its workers see the environment it was
started with (this process's forkserver may predate the manual label)."""


@pytest.fixture(scope="module")
def suites(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("results")
    manual = root / "manual"
    manual.mkdir()
    stop = threading.Event()
    responder = threading.Thread(target=_respond, args=(manual, stop), daemon=True)
    responder.start()
    verifier = SuiteConfig(
        games=select_games(VERIFIER_GAMES),
        learn=LEARN,
        llm=f"manual:{manual}",
        matches=2,
        library=str(root / "library"),
    )
    env = os.environ | {"AUTOHARNESS_MANUAL_LABEL": LABEL}
    try:
        args = [json.dumps(verifier.to_dict()), str(root / "verifier")]
        subprocess.run([sys.executable, "-c", RUN_SUITE, *args], env=env, check=True, timeout=600)
    finally:
        stop.set()
    executor = LocalExecutor(2)
    try:
        with FakeOpenAIServer(reply) as server:
            policy = SuiteConfig(
                games=select_games("TowerOfHanoi-v0"),
                learn=dataclasses.replace(LEARN, mode="policy"),
                llm="fake-model",
                base_url=server.base_url,
                matches=2,
            )
            run_suite(root / "policy", executor, config=policy)
    finally:
        executor.close()
    return root / "verifier", root / "policy"


def test_totals_are_the_papers_aggregates_over_the_same_games(suites):
    totals = SuiteManifest.load(suites[0]).totals()
    # Solved: Nim (learned), Nim-large (reused from Nim). TowerOfHanoi reached legal rate 1.0, but
    # verification finds legal moves its (test) harness rejects; Othello's harness stays below legal rate 1.0
    # (tests.harnesses.OTHELLO_VERIFIER); Chopsticks: the scripted model has no harness.
    assert totals["solved"] == 2 and totals["failed"] == 1
    assert totals["paper_solved"] == 5  # the paper reached legal rate 1.0 on all five
    # The evaluation set here: Chopsticks (failed), TowerOfHanoi, Othello; one code version each.
    assert totals["eval_set_games"] == 3 and totals["eval_set_done"] == 2
    assert totals["mean_iterations_eval_set"] == 1.0
    assert totals["paper_mean_steps_eval_set"] == pytest.approx((7 + 62) / 2)  # the same two (not Chopsticks)
    assert totals["converged_under_10"] == 3 and totals["converged_under_10_reused"] == 1
    assert totals["paper_under_10"] == 3  # Nim 1, Nim-large 2, TowerOfHanoi 7 (Chopsticks 15, Othello 62)
    assert totals["reward_1p_games"] == 1 and totals["reward_1p_done"] == 1
    # Agent ``policy`` compares with the paper's harness-as-policy column (TowerOfHanoi: 1.0).
    assert totals["paper_reward_1p_mean"] == 1.0
    wdl = totals["wdl_2p"]
    assert totals["wdl_2p_games"] == 2 and totals["wdl_2p_done"] == 1 and wdl["matches"] == 2
    played = wdl["wins_by_play"] + wdl["draws"] + wdl["losses_by_play"]
    assert played + wdl["wins_by_forfeit"] + wdl["losses_by_forfeit"] + wdl["dead_positions"] == 2


def test_results_markdown_names_who_answered_and_keeps_failed_games(suites, tmp_path, capsys):
    out = tmp_path / "results.md"
    assert main(["results", str(suites[0]), str(suites[1]), "-o", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    text = out.read_text()
    assert "do not edit by hand" in text and f"autoharness results {suites[0]} {suites[1]} -o {out}" in text
    headings = [line for line in text.splitlines() if line.startswith(("## ", "### "))]
    tables = [h for h in headings if not h.startswith(("## Verifier suite", "## Policy suite"))]
    assert len(tables) == 6  # totals; verifier: learning, 1-player, 2-player; policy: learning, 1-player
    for heading in tables:
        assert "not the paper's Gemini-2.5-Flash" in heading, heading
    assert all(LABEL in h and "fake-model" not in h for h in tables[1:4])
    assert all("fake-model" in h and LABEL not in h for h in tables[4:])
    assert LABEL in tables[0] and "fake-model" in tables[0]
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}
    assert "FAILED" in rows["Chopsticks-v0"] and "no usable harness" in rows["Chopsticks-v0"]
    assert "reused from Nim-v0" in rows["Nim-v0-large"]
    assert "5 positions, 0 disagreements" in rows["Nim-v0"]
    assert "FAIL: 5 disagreements in 5 positions (5 false rejects)" in text
    assert "Learning was capped at 1 iterations per game (the paper: up to 256)" in text
    # Regenerated from the same suites: the same page, byte for byte (no time stamps).
    assert main(["results", str(suites[0]), str(suites[1]), "-o", str(out)]) == 0
    assert out.read_text() == text


def _row(table, game: str) -> dict[str, str]:
    return dict(zip(table.columns, next(r for r in table.rows if r[0] == game), strict=True))


def test_every_game_has_a_row_and_paper_figures_stand_beside_like_only(suites):
    verifier, policy = (SuiteManifest.load(s) for s in suites)
    learning, one, two = suite_tables(verifier)
    assert [r[0] for r in learning.rows] == list(verifier.games)
    nim = _row(learning, "Nim-v0")
    assert (
        nim["status"] == "solved"
        and nim["paper: learning steps"] == "1"
        and nim["paper: legal rate"] == "1.000"
    )
    assert nim["iterations"] == "1" and nim["LLM calls"] == "1" and nim["legal rate"] == "1.000"
    assert _row(learning, "TowerOfHanoi-v0")["status"] == "done, FAIL"
    othello = _row(learning, "Othello-v0")
    assert othello["status"] == "done, legal rate < 1" and othello["legal rate"] == "0.982"
    assert othello["notes"] == "stopped: budget: iterations 1 of 1"
    large = _row(learning, "Nim-v0-large")
    assert large["iterations"] == "0" and large["harness"] == "reused from Nim-v0 (no learning of its own)"
    # The paper published no policy learning figures: none beside the policy suite's learning.
    p_learning, p_one = suite_tables(policy)
    assert not [c for c in p_learning.columns if c.startswith("paper:")] and "H" in p_learning.columns
    # 1-player: the paper's six columns, the same kind of agent marked.
    assert [c for c in one.columns if c.startswith("paper:")][-1] == "paper: Harness as policy (same kind)"
    hanoi = _row(p_one, "TowerOfHanoi-v0")
    assert hanoi["paper: Gemini-2.5-Flash"] == "1.000" and hanoi["matches"] == "2"
    assert "Mean reward over 2 matches per game (the paper: 20)" in p_one.notes[0]
    assert "propose_action of a harness learned in verifier mode" in " ".join(one.notes)
    # 2-player: W/D/L by play with the forfeits apart; a failed game keeps its row.
    row = _row(two, "Othello-v0")
    assert row["opponent"] == "random" and row["matches"] == "2"
    by_play = sum(int(x) for x in row["W / D / L by play"].split(" / "))
    assert by_play + int(row["W by opp. forfeit"]) + int(row["L by own forfeit"]) <= 2
    chopsticks = _row(two, "Chopsticks-v0")
    assert chopsticks["status"] == "FAILED" and chopsticks["W / D / L by play"] == "—"
    totals = totals_table([verifier, policy])
    reward = [r for r in totals.rows if r[0] == "1-player mean reward"]
    assert len(reward) == 2 and "the paper: up to 256" in reward[1][4]
    solved = next(r for r in totals.rows if r[0].startswith("games solved"))
    assert solved[2:4] == ["2", "5"]


def test_report_of_a_suite_has_the_same_tables(suites, tmp_path):
    page = write_report(suites[0], tmp_path / "report.html").read_text()
    verifier = SuiteManifest.load(suites[0])
    for table in [totals_table([verifier]), *suite_tables(verifier)]:
        assert table.heading.split(" — ")[0] in page
    assert "5 positions, 0 disagreements" in page and "reused from Nim-v0" in page


def test_results_of_a_missing_or_damaged_suite_is_one_line(suites, tmp_path, capsys):
    assert main(["results", str(tmp_path / "nowhere")]) == 2
    assert "no suite" in capsys.readouterr().err
    assert main(["results", str(suites[0]), str(suites[0])]) == 2
    assert "given twice" in capsys.readouterr().err
    assert main(["results", str(suites[0]), "-o", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    assert markdown([SuiteManifest.load(suites[1])], "cmd").startswith("# Results")


def test_evaluations_are_labelled_by_the_agent_that_played(suites, tmp_path):
    """A suite whose config no longer evaluates (as after a resume with another config) keeps the agent its
    recorded evaluations name; a finished game without one says so; repair rounds and a verification cut
    short are noted."""
    copy = tmp_path / "verifier"
    shutil.copytree(suites[0], copy)
    data = json.loads((copy / "suite.json").read_text())
    data["config"]["eval_agent"] = "none"
    data["games"]["Nim-v0"]["result"]["learned"]["verify_repairs"] = 2
    cut = "verified on 5 held-out positions: 0 disagreements; time budget spent after 5 of 300 positions"
    data["games"]["Nim-v0"]["result"]["learned"]["verification"]["headline"] = cut
    data["games"]["TowerOfHanoi-v0"]["result"]["eval"] = None
    (copy / "suite.json").write_text(json.dumps(data))
    manifest = SuiteManifest.load(copy)
    assert manifest.config.resolved_eval_agent is None and manifest.eval_agents() == ["policy"]
    learning, one, two = suite_tables(manifest)
    nim = _row(learning, "Nim-v0")
    assert "refined 2× on verification counterexamples" in nim["notes"]
    assert nim["verification (held-out positions)"] == (
        "5 positions, 0 disagreements (time budget spent after 5 of 300 positions — cut by wall time, so the "
        "count depends on the machine's speed and load)"
    )
    assert "agent `policy` (the verifier-mode harness's propose_action" in two.heading
    hanoi = _row(one, "TowerOfHanoi-v0")
    assert hanoi["mean reward"] == "—" and hanoi["notes"] == "not evaluated"
    assert "paper: Harness as policy (same kind)" in one.columns


def test_an_unfinished_suite_is_compared_with_the_papers_figures_over_its_finished_games_only(
    suites, tmp_path
):
    """An interrupted suite (games still pending) compared its finished games with the paper's whole table
    (the campaign's 32 solved of 38 finished beside the paper's 145): the paper's figures are over the same
    finished games, and the notes say so."""
    full = SuiteManifest.load(suites[0]).totals()
    copy = tmp_path / "verifier"
    shutil.copytree(suites[0], copy)
    data = json.loads((copy / "suite.json").read_text())
    for game in ("Othello-v0", "TowerOfHanoi-v0"):  # as a resumable suite holds the games it has not run
        data["games"][game].update(status="pending", result=None, finished=None)
    (copy / "suite.json").write_text(json.dumps(data))
    manifest = SuiteManifest.load(copy)
    totals = manifest.totals()
    assert manifest.finished() == sorted(
        set(data["games"]) - {"Othello-v0", "TowerOfHanoi-v0"}, key=list(data["games"]).index
    )
    assert (full["paper_solved"], totals["paper_solved"]) == (5, 3)  # Nim, Nim-large, Chopsticks
    assert totals["paper_under_10"] == 2 and totals["paper_learning_steps"] == 1 + 2 + 15
    assert totals["eval_set_done"] == 0 and totals["paper_mean_steps_eval_set"] is None
    rows = {row[0]: row for row in totals_table([manifest]).rows}
    solved = rows["games solved (legal rate 1.0 and verified)"]
    assert solved[3] == "3" and "over the same 3 games (the finished ones)" in solved[4]


def _edited_copy(suite: Path, tmp_path: Path, edit) -> SuiteManifest:
    """A copy of a real suite whose suite.json ``edit(data)`` changed (as the campaign's records are)."""
    copy = tmp_path / suite.name
    shutil.copytree(suite, copy)
    data = json.loads((copy / "suite.json").read_text())
    edit(data["games"])
    (copy / "suite.json").write_text(json.dumps(data))
    return SuiteManifest.load(copy)


def test_a_short_verification_says_beside_its_count_whether_wall_time_or_a_count_stopped_it(suites, tmp_path):
    """The campaign holds figures cut by the old wall-time budget (``verify.TIME_CUT``), figures stopped by a
    count (no new position in 50 games, the games cap) and figures recorded short with no reason at all
    (TowerOfHanoi-v0's 133 of 300): each says which, next to the positions count; positions skipped for want
    of a known legal move are said too."""

    def edit(games):
        def headline(game, positions, tail):
            verification = games[game]["result"]["learned"]["verification"]
            verification.update(
                positions=positions,
                headline=f"verified on {positions} held-out positions: 0 disagreements{tail}",
            )

        headline(
            "Nim-v0",
            3,
            "; no new position in the last 50 games: the game shows few distinct positions (3 of 5 found)",
        )
        headline("Nim-v0-large", 4, "")  # short, and no reason on record
        games["Nim-v0-large"]["result"]["learned"]["verification"]["headline"] += (
            " (2 positions without a known legal move skipped)"
        )

    learning = suite_tables(_edited_copy(suites[0], tmp_path, edit))[0]
    column = "verification (held-out positions)"
    assert _row(learning, "Nim-v0")[column] == (
        "3 positions, 0 disagreements (no new position in the last 50 games: the game shows few distinct "
        "positions (3 of 5 found) — stopped by a count, not by wall time)"
    )
    assert _row(learning, "Nim-v0-large")[column] == (
        "4 positions, 0 disagreements (4 of the 5 positions asked; the record gives no reason for stopping "
        "early; 2 positions without a known legal move skipped, not checked)"
    )


def test_a_game_whose_run_ran_other_settings_says_so_and_the_suite_settings_are_noted(suites, tmp_path):
    """suite.json holds the settings of the suite's last start or resume; a game's run stores the learning
    config that actually ran: where they differ, the row says so, and its verification is read against the
    positions its run asked for."""
    copy = tmp_path / "verifier"
    shutil.copytree(suites[0], copy)
    db = sqlite3.connect(copy / "games" / "Nim-v0" / "learn" / "run.sqlite")
    (config,) = db.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()
    config = json.loads(config) | {"verify_positions": 7}  # as a game learned before the suite was resumed
    db.execute("UPDATE meta SET value = ? WHERE key = 'config'", (json.dumps(config),))
    db.commit()
    db.close()
    learning = suite_tables(SuiteManifest.load(copy))[0]
    nim = _row(learning, "Nim-v0")
    assert (
        "its run's stored config differs from suite.json: verify_positions 7 (suite.json: 5)" in nim["notes"]
    )
    assert "(5 of the 7 positions asked;" in nim["verification (held-out positions)"]
    assert _row(learning, "Nim-v0-large")["notes"] == ""  # reused: no run of its own, the suite's settings
    assert any(
        note.startswith("Settings (suite.json): 5 held-out positions asked per verification; up to 0 rounds")
        for note in learning.notes
    )


def test_evaluation_figures_say_what_was_not_played_to_an_end(suites, tmp_path):
    """Matches cut or left unstarted by the evaluation's time budget, cut at the step cap (2-player: draws),
    and 1-player matches that ran out of the game's own turns (scored by completion: the policy suite's
    TowerOfHanoi-v0 harness never solves the puzzle in its 14 turns) are said beside the figure and in the
    totals, which also name the games they leave out."""
    hanoi = _row(suite_tables(SuiteManifest.load(suites[1]))[1], "TowerOfHanoi-v0")
    assert hanoi["mean reward"] == "0.000"
    assert hanoi["notes"] == "2 of 2 ended unsolved at the game's own 14-turn limit, scored by completion"

    def edit(games):
        games["TowerOfHanoi-v0"]["result"]["eval"].update(
            matches=1, time_cut=1, not_started=0, eval_seconds=300.0
        )
        games["Othello-v0"]["result"]["eval"]["cut"] = 1
        games["Nim-v0-large"].update(status="running", result=None)

    manifest = _edited_copy(suites[0], tmp_path, edit)
    _, one, two = suite_tables(manifest)
    assert _row(one, "TowerOfHanoi-v0")["notes"].startswith(
        "only 1 of 2 matches played: the 300 s evaluation time budget cut 1 and left 0 unstarted (not "
        "played: left out of every figure)"
    )
    assert "1 of the draws are matches cut at the 1000-ply step cap" in _row(two, "Othello-v0")["notes"]
    rows = {row[0]: row[4] for row in totals_table([manifest]).rows}
    assert "includes TowerOfHanoi-v0: 1 of 2 matches played" in rows["1-player mean reward"]
    assert "includes Othello-v0: 1 cut at the step cap" in rows["2-player W / D / L by play"]
    assert "(left out: Chopsticks-v0 (failed))" in rows["2-player W / D / L by play"]
    assert "not finished: Nim-v0-large (running)" in rows["games done / failed / not finished"]
    assert (
        "ours over the 3 games done (1 failed, 1 not finished: left out)" in rows["LLM calls to learn (sum)"]
    )
