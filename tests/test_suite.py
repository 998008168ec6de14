"""The suite: game selection, paper columns, and whole suites on real games with a scripted LLM endpoint."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from autoharness.cli import main
from autoharness.errors import ConfigError
from autoharness.executors import LocalExecutor
from autoharness.learn.config import LearnConfig
from autoharness.library import Library, LibraryEntry
from autoharness.suite import (
    TABLE_COLUMNS,
    SuiteConfig,
    SuiteManifest,
    paper_columns,
    read_summary,
    run_suite,
    schedule_order,
    select_games,
)
from tests.llm.fake_openai import FakeOpenAIServer

TICTACTOE = '''import re


def _free(obs):
    """Empty cells (their digits) of the last board printed."""
    board = obs.rsplit("Current Board:", 1)[-1]
    rows = [line for line in board.splitlines() if "|" in line][:3]
    return [c.strip() for row in rows for c in row.split("|") if c.strip().isdigit()]


def propose_action(obs):
    free = _free(obs)
    return f"[{free[0]}]" if free else "[0]"


def is_legal_action(obs, action):
    m = re.fullmatch(r"\\s*\\[(\\d)\\]\\s*", action)
    return bool(m) and m.group(1) in _free(obs)


def legal_actions(obs):
    return [f"[{c}]" for c in _free(obs)]
'''

CONNECT_FOUR = '''import re


def _columns(obs):
    """Columns whose top cell is empty, from the last board printed (any board width)."""
    lines = obs.rsplit("Board state:", 1)[-1].strip().splitlines()
    header = lines[0].split()
    rows = [line.split() for line in lines[2:] if line and line[0] in ".XO"]
    return [int(c) for i, c in enumerate(header) if rows and rows[0][i] == "."]


def propose_action(obs):
    free = _columns(obs)
    return f"[{free[0]}]" if free else "[0]"


def is_legal_action(obs, action):
    m = re.fullmatch(r"\\s*\\[(?:col\\s*)?(\\d+)\\]\\s*", action)
    return bool(m) and int(m.group(1)) in _columns(obs)


def legal_actions(obs):
    return [f"[{c}]" for c in _columns(obs)]
'''

TOWER_OF_HANOI = '''import re


def _towers(obs):
    """Tower name → disks bottom to top, from the last board printed."""
    board = obs.rsplit("Current Board:", 1)[-1]
    towers = re.findall(r"([A-Z]): \\[([^\\]]*)\\]", board)
    return {name: [int(d) for d in re.findall(r"\\d+", disks)] for name, disks in towers}


def legal_actions(obs):
    towers = _towers(obs)
    moves = []
    for src, disks in towers.items():
        for dst, others in towers.items():
            if src != dst and disks and (not others or others[-1] > disks[-1]):
                moves.append(f"[{src} {dst}]")
    return moves


def propose_action(obs):
    moves = legal_actions(obs)
    return moves[0] if moves else "[A C]"


def is_legal_action(obs, action):
    m = re.fullmatch(r"\\s*\\[([A-Z])\\s+([A-Z])\\]\\s*", action)
    return bool(m) and f"[{m.group(1)} {m.group(2)}]" in legal_actions(obs)
'''

NIM = '''import re


def _piles(obs):
    """Pile index → objects left, from the last pile listing printed."""
    listing = obs.rsplit("Current Pile", 1)[-1]
    return {int(i): int(n) for i, n in re.findall(r"pile (\\d+): (\\d+)", listing)}


def legal_actions(obs):
    return [f"[{i} {q}]" for i, n in _piles(obs).items() for q in range(1, n + 1)]


def propose_action(obs):
    piles = {i: n for i, n in _piles(obs).items() if n > 0}
    return f"[{min(piles)} 1]" if piles else "[0 1]"


def is_legal_action(obs, action):
    m = re.fullmatch(r"\\s*\\[(\\d+)\\s+(\\d+)\\]\\s*", action)
    if not m:
        return False
    pile, quantity = int(m.group(1)), int(m.group(2))
    return 1 <= quantity <= _piles(obs).get(pile, 0)
'''

SCRIPTED = {
    "Tic Tac Toe": TICTACTOE,
    "Connect Four": CONNECT_FOUR,
    "Tower of Hanoi": TOWER_OF_HANOI,
    "Welcome to Nim": NIM,
}
"""What the scripted model answers, by the game named in the prompt (the game's own rules text)."""


def scripted_reply(body: dict) -> str:
    """The scripted model: a correct harness for games it knows, prose without code for the others."""
    prompt = json.dumps(body["messages"])
    for name, code in SCRIPTED.items():
        if name in prompt:
            return f"Here is the harness.\n```python\n{code}```\n"
    return "I do not know this game."


LEARN = LearnConfig(n_envs=3, parallelism=1, max_iterations=2, probe_states=5, probe_actions=4)


def test_select_games_all_eval32_file_and_ids(tmp_path):
    assert len(select_games("all")) == 145
    eval32 = select_games("eval32")
    assert len(eval32) == 32 and "Chess-v0" in eval32 and "Chess-v0-long" not in eval32
    listing = tmp_path / "games.txt"
    listing.write_text("# my games\nChess-v0-long\n\nTicTacToe-v0  # easy\nChess-v0-long\n")
    assert select_games(str(listing)) == ["Chess-v0-long", "TicTacToe-v0"]
    assert select_games("Nim-v0, Nim-v0-large") == ["Nim-v0", "Nim-v0-large"]


def test_select_games_bad_input_says_what_is_wrong(tmp_path):
    with pytest.raises(ConfigError, match="did you mean Chess-v0"):
        select_games("Chess-v0,Chezz-v0")
    with pytest.raises(ConfigError, match="no such games file"):
        select_games(str(tmp_path / "missing.txt"))
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    with pytest.raises(ConfigError, match="selects no games"):
        select_games(str(empty))
    bad = tmp_path / "bad.txt"
    bad.write_text("TicTacToe-v0\nTicTacToe-v7\n")
    with pytest.raises(ConfigError, match=r"bad\.txt: unknown game id 'TicTacToe-v7'"):
        select_games(str(bad))


def test_schedule_runs_families_together_base_game_first_costliest_first():
    order = schedule_order(["TicTacToe-v0", "Chess-v0-long", "Nim-v0", "Chess-v0", "Chess-v0-blind"])
    # Paper learning steps: Chess family 16 + 64 + 19, TicTacToe 4, Nim 1.
    assert order == ["Chess-v0", "Chess-v0-blind", "Chess-v0-long", "TicTacToe-v0", "Nim-v0"]


def test_paper_columns_compare_like_with_like():
    assert paper_columns("2048-v0", "verifier:gemini-2.5-flash", "verifier") == {
        "paper_learning_steps": 27,
        "paper_legal_rate": 1.0,
        "paper_eval_set": True,
        "paper_reward": 0.308,
    }
    # The paper's learning figures are verifier learning: none beside a policy or filter run.
    assert paper_columns("2048-v0", "policy", "policy") == {
        "paper_learning_steps": None,
        "paper_legal_rate": None,
        "paper_eval_set": True,
        "paper_reward": 0.912,
    }
    assert paper_columns("2048-v0", "random", "filter")["paper_learning_steps"] is None
    assert paper_columns("2048-v0", "llm:gemini-2.5-flash", "verifier")["paper_reward"] == 0.215
    assert paper_columns("2048-v0", "random", "verifier")["paper_reward"] is None
    assert paper_columns("2048-v0", "filter:m", "filter")["paper_reward"] is None  # no filter agent there
    assert paper_columns("Chess-v0-long", "policy", "policy")["paper_reward"] is None


@pytest.fixture(scope="module")
def learned_suite(tmp_path_factory):
    """One real suite: 4 games, 2 workers, a scripted model that is slow enough for calls to overlap."""
    root = tmp_path_factory.mktemp("suite")

    def slow_reply(body: dict) -> str:
        time.sleep(1.5)
        return scripted_reply(body)

    with FakeOpenAIServer(slow_reply) as server:
        config = SuiteConfig(
            games=select_games("ConnectFour-v0-large,Othello-v0,TicTacToe-v0,ConnectFour-v0"),
            learn=LEARN,
            llm="fake-model",
            base_url=server.base_url,
            eval_agent="policy",
            matches=2,
            library=str(root / "library"),
        )
        events: list[tuple[str, str]] = []
        executor = LocalExecutor(2)
        try:
            manifest = run_suite(
                root / "suite", executor, config=config, on_event=lambda g, s, r: events.append((g, s))
            )
        finally:
            executor.close()
        return manifest, server, events, root


def test_suite_learns_reuses_family_harness_and_records_failure(learned_suite):
    manifest, server, events, root = learned_suite
    games = manifest.games
    assert {g: r["status"] for g, r in games.items()} == {
        "ConnectFour-v0-large": "done",
        "Othello-v0": "failed",
        "TicTacToe-v0": "done",
        "ConnectFour-v0": "done",
    }
    # The variant ran after its base game and started from its harness: evaluated first, no LLM call.
    large = games["ConnectFour-v0-large"]["result"]
    assert large["seeded_from"] == "ConnectFour-v0" and large["reused"]
    assert large["learned"]["llm_calls"] == 0 and large["seed_legal_rate"] == 1.0
    assert events.index(("ConnectFour-v0", "done")) < events.index(("ConnectFour-v0-large", "running"))
    for game in ("ConnectFour-v0", "TicTacToe-v0"):
        learned = games[game]["result"]["learned"]
        assert learned["llm_calls"] == 1 and learned["legal_rate"] == 1.0
    # A game the model cannot do fails alone, with its reason; the others finished.
    assert "no usable harness" in games["Othello-v0"]["error"]["message"]
    assert (root / "suite" / "games" / "Othello-v0" / "error.txt").read_text().startswith("Traceback")
    # Two games learned at the same time: their LLM calls overlapped at the endpoint.
    assert server.max_in_flight == 2
    assert len(server.requests) == manifest.data["totals"]["llm_calls"] + 2  # + Othello's 2 failed tries


def test_suite_json_has_the_table_with_paper_columns(learned_suite):
    _manifest, _, _, root = learned_suite
    data = json.loads((root / "suite" / "suite.json").read_text())
    rows = {row["game"]: row for row in data["table"]}
    assert all(tuple(row) == TABLE_COLUMNS for row in rows.values())
    ttt = rows["TicTacToe-v0"]
    assert ttt["paper_learning_steps"] == 4 and ttt["paper_legal_rate"] == 1.0
    assert ttt["eval_agent"] == "policy" and ttt["eval_legal_rate"] == 1.0 and ttt["eval_wdl"] is not None
    assert rows["Othello-v0"]["error"].startswith("exception: RuntimeError")
    assert data["totals"] | {"paper_learning_steps": 0} == {
        "games": 4,
        "pending": 0,
        "running": 0,
        "done": 3,
        "failed": 1,
        "reused": 1,
        "llm_calls": 2,
        "tokens": data["totals"]["tokens"],
        "cost_usd": 0.0,
        "eval_cost_usd": 0.0,
        "eval_llm_calls": 0,  # the policy agent asks no model
        "budget_spent": False,
        "paper_learning_steps": 0,
        # the paper's aggregates, ours beside the paper's over the same games (verification was skipped
        # here, so no game counts as solved; Othello is the only evaluation-set game, and it failed)
        "solved": 0,
        "paper_solved": 4,
        "eval_set_games": 1,
        "eval_set_done": 0,
        "eval_set_reused": 0,
        "mean_iterations_eval_set": None,
        "paper_mean_steps_eval_set": None,  # over the same games as ours: none finished learning
        "converged_under_10": 3,
        "converged_under_10_reused": 1,
        "paper_under_10": 2,  # TicTacToe 4, ConnectFour-large 1 (ConnectFour 10, Othello 62)
        "reward_1p_games": 0,
        "reward_1p_done": 0,
        "reward_1p_mean": None,
        "paper_reward_1p_mean": None,
        "paper_reward_1p_mean_all": None,
        "wdl_2p_games": 1,
        "wdl_2p_done": 0,
        "wdl_2p": None,
    }
    assert (root / "suite" / "games" / "TicTacToe-v0" / "eval" / "eval.json").is_file()


def test_suite_stores_what_it_learned_in_the_library(learned_suite):
    *_, root = learned_suite
    lib = Library(root / "library")
    stored = {e.game: e for e in lib.entries()}
    assert set(stored) == {"ConnectFour-v0", "ConnectFour-v0-large", "TicTacToe-v0"}
    assert stored["ConnectFour-v0"].llm_calls == 1 and stored["ConnectFour-v0"].model == "fake-model"
    assert stored["ConnectFour-v0-large"].seeded_from == "ConnectFour-v0"
    assert stored["ConnectFour-v0-large"].llm_calls == 0
    assert "def _columns" in stored["ConnectFour-v0-large"].code


def _seeded_library(path) -> Library:
    lib = Library(path)
    lib.put(LibraryEntry(game="TicTacToe-v0", mode="verifier", code=TICTACTOE, legal_rate=1.0, h=1.0))
    lib.put(LibraryEntry(game="ConnectFour-v0", mode="verifier", code=CONNECT_FOUR, legal_rate=1.0, h=1.0))
    return lib


def _descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (from /proc)."""
    parents = {}
    for stat in os.listdir("/proc"):
        if stat.isdigit():
            try:
                with open(f"/proc/{stat}/stat") as handle:
                    parents[int(stat)] = int(handle.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    found, frontier = [], [pid]
    while frontier:
        children = [p for p, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def test_suite_killed_with_sigkill_resumes_without_redoing_finished_games(tmp_path, monkeypatch):
    # with no model a suite replays shipped runs (ConnectFour-v0 ships one): this test is about the library
    monkeypatch.setenv("AUTOHARNESS_BUILTIN_DIR", str(tmp_path / "no-builtin"))
    _seeded_library(tmp_path / "lib")
    out = tmp_path / "s"
    common = ["--out", str(out), "--workers", "1"]
    cmd = [sys.executable, "-m", "autoharness.cli", "suite", "--games", "TicTacToe-v0,ConnectFour-v0"]
    cmd += [*common, "--library", str(tmp_path / "lib"), "--matches", "2", "--n-envs", "3"]
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        done: list[str] = []
        while not done and time.monotonic() < deadline and proc.poll() is None:
            if (out / "suite.json").exists():  # every read parses: the manifest is replaced atomically
                games = json.loads((out / "suite.json").read_text())["games"]
                done = [g for g, r in games.items() if r["status"] == "done"]
            time.sleep(0.05)
        helpers = _descendants(proc.pid)  # fork server, its workers, the sandbox below them
    finally:
        proc.kill()  # SIGKILL, the suite process only: its pool workers must notice and leave by themselves
        proc.wait()
    assert len(done) == 1, "the suite should have been killed after its first game"
    deadline = time.monotonic() + 10
    while any(os.path.exists(f"/proc/{pid}") for pid in helpers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert helpers and not [pid for pid in helpers if os.path.exists(f"/proc/{pid}")], "orphans left running"
    finished_at = json.loads((out / "suite.json").read_text())["games"][done[0]]["finished"]

    assert main(["suite", "--resume", *common]) == 0
    resumed = SuiteManifest.load(out)
    assert all(r["status"] == "done" for r in resumed.games.values())
    assert resumed.games[done[0]]["attempts"] == 1 and resumed.games[done[0]]["finished"] == finished_at
    assert resumed.data["totals"]["reused"] == 2 and resumed.data["totals"]["llm_calls"] == 0


def test_cli_suite_runs_prints_the_table_and_refuses_bad_input(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    _seeded_library(tmp_path / "lib")
    out = str(tmp_path / "s")
    common = ["--out", out, "--workers", "1"]
    args = ["suite", "--games", "TicTacToe-v0", "--matches", "2", "--n-envs", "3", *common]
    assert main([*args, "--library", str(tmp_path / "lib")]) == 0
    text = capsys.readouterr().out
    assert "TicTacToe-v0" in text and "1/1 done" in text and "reused" in text
    assert main(args) == 2  # the suite exists: --resume or another --out
    assert main(["suite", "--resume", *common]) == 0  # nothing left to do
    assert main(["suite", "--resume", "--matches", "4", *common]) == 2  # the stored config runs
    assert main(["suite", "--games", "Chezz-v0", "--out", str(tmp_path / "t")]) == 2
    assert main(["suite", "--resume", "--out", str(tmp_path / "none")]) == 2
    assert main(["suite", "--games", "TicTacToe-v0", "--address", "x:1", "--out", str(tmp_path / "u")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 5 and all(line.startswith("autoharness: error:") for line in err)
    assert "already holds a suite" in err[0] and "drop --matches" in err[1]
    assert "did you mean" in err[2] and "no suite to resume" in err[3] and "--address" in err[4]


def test_game_timeout_is_recorded_as_that_games_failure(tmp_path):
    hold = threading.Event()

    def never_answer(body: dict) -> str:
        hold.wait(60)
        return "late"

    with FakeOpenAIServer(never_answer) as server:
        config = SuiteConfig(
            games=["Nim-v0"], learn=LEARN, llm="fake-model", base_url=server.base_url, game_timeout=6
        )
        executor = LocalExecutor(1)
        start = time.perf_counter()
        try:
            manifest = run_suite(tmp_path / "s", executor, config=config)
        finally:
            hold.set()
            executor.close()
    assert time.perf_counter() - start < 30
    error = manifest.games["Nim-v0"]["error"]
    assert manifest.games["Nim-v0"]["status"] == "failed"
    assert error == {"kind": "timeout", "type": "TaskTimeout", "message": "deadline of 6 s passed"}


# --- a hand-edited suite.json (issue 17, item 10) -----------------------------------------------------


def _set(path: list, value):
    def change(data: dict) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set(["games", "TicTacToe-v0", "status"], "finished"), "unknown status 'finished'"),
        (_set(["games", "TicTacToe-v0", "status"], 3), "'status' should be a string"),
        (_set(["games", "TicTacToe-v0", "attempts"], "1"), "'attempts' should be a whole number"),
        (_set(["games", "TicTacToe-v0", "attempts"], -1), "should not be negative"),
        (_set(["games", "TicTacToe-v0", "error"], {"kind": "x"}), ".error: 'type' should be a string"),
        (_set(["games", "TicTacToe-v0", "result"], {"learned": {"llm_calls": "5"}}), "'llm_calls'"),
        (_set(["games", "TicTacToe-v0", "result"], {"eval": {"matches": 4}}), "'wins' should be a whole"),
        (_set(["games", "TicTacToe-v0", "result"], []), "'result' should be an object or null"),
        (_set(["games"], []), "'games' should be an object"),
        (_set(["games"], {"TicTacTo-v0": {}}), "TicTacToe-v0"),
        (_set(["config", "games"], "TicTacToe-v0"), "config: 'games' should be a list of strings"),
        (_set(["config", "games"], ["TicTacToe-v0", "Chess-v0"]), "config lists games with no record"),
        (_set(["config", "matches"], 1.5), "'matches' should be a whole number or null"),
        (_set(["config", "learn"], {"n_envs": "many"}), "suite.json"),
        (_set(["config", "surprise"], 1), "suite.json"),
    ],
)
def test_a_hand_edited_suite_json_is_one_line_and_runs_nothing(tmp_path, capsys, change, message):
    out = tmp_path / "suite"
    SuiteManifest.create(out, SuiteConfig(games=["TicTacToe-v0"], learn=LearnConfig(n_envs=2)))
    data = json.loads((out / "suite.json").read_text())
    change(data)
    (out / "suite.json").write_text(json.dumps(data))
    assert main(["suite", "--resume", "--out", str(out), "--executor", "local", "--workers", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (out / "games").exists()


@pytest.mark.parametrize("content", [b"[" * 100_000, b"\xff\xfe", b'{"format": ' + b"1" * 5000 + b"}"])
def test_an_unreadable_suite_json_is_one_line(tmp_path, capsys, content):
    out = tmp_path / "suite"
    out.mkdir()
    (out / "suite.json").write_bytes(content)
    assert main(["suite", "--resume", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "suite.json" in err[0], err


ANY_GAME_LAX = (
    "```python\ndef propose_action(obs):\n    return '[0]'\n\n\n"
    "def is_legal_action(obs, action):\n    return True\n```\n"
)
"""A harness that loads for any game but plays badly: learning keeps refining it until its budget."""


def test_suite_budget_holds_across_the_whole_suite(tmp_path):
    with FakeOpenAIServer(lambda body: ANY_GAME_LAX) as server:
        config = SuiteConfig(
            games=select_games("TicTacToe-v0,ConnectFour-v0,Othello-v0"),
            learn=dataclasses.replace(LEARN, max_iterations=6),
            llm="fake-model",
            base_url=server.base_url,
            eval_agent="none",
            max_llm_calls=3,
        )
        executor = LocalExecutor(1)
        try:
            manifest = run_suite(tmp_path / "suite", executor, config=config)
        finally:
            executor.close()
    totals = manifest.data["totals"]
    assert len(server.requests) == totals["llm_calls"] == 3  # not 3 per game: 3 for the suite
    assert totals["budget_spent"] and totals["pending"] == 2 and totals["done"] == 1
    (done,) = [r for r in manifest.games.values() if r["status"] == "done"]
    assert done["result"]["learned"]["stop_reason"] == "budget: LLM calls 3 of 3"


# Proposes legal moves (so training, with probing off, sees only legal moves: H 1.0) but accepts anything.
TICTACTOE_ACCEPTS_ALL = TICTACTOE.replace(
    'm = re.fullmatch(r"\\s*\\[(\\d)\\]\\s*", action)\n    return bool(m) and m.group(1) in _free(obs)',
    "return True",
)


def test_refine_on_verify_repairs_a_harness_that_fails_verification_and_resume_repairs_old_games(tmp_path):
    """A harness at legal rate 1.0 that verification refutes is refined on the counterexamples (the loop
    itself repairs it); a suite that finished without repairs re-runs such games on --resume."""
    assert "return True" in TICTACTOE_ACCEPTS_ALL and TICTACTOE_ACCEPTS_ALL != TICTACTOE

    def reply(body: dict) -> str:
        prompt = json.dumps(body["messages"])
        refined = "held-out positions" in prompt  # the verification's counterexamples were fed back
        code = TICTACTOE if refined else TICTACTOE_ACCEPTS_ALL
        return f"```python\n{code}```\n"

    learn = dataclasses.replace(LEARN, probe=False, verify_positions=40)
    with FakeOpenAIServer(reply) as server:

        def suite(out, rounds, resume=False):
            config = SuiteConfig(
                games=["TicTacToe-v0"],
                learn=learn,
                llm="fake-model",
                base_url=server.base_url,
                eval_agent="none",
                library=str(tmp_path / f"lib-{out}"),
                refine_on_verify=rounds,
            )
            executor = LocalExecutor(1)
            try:
                return run_suite(
                    tmp_path / out,
                    executor,
                    config=None if resume else config,
                    resume=resume,
                    refine_on_verify=rounds if resume else None,
                )
            finally:
                executor.close()

        plain = suite("plain", 0).games["TicTacToe-v0"]["result"]["learned"]
        assert plain["legal_rate"] == 1.0 and plain["verification"]["passed"] is False
        assert plain["verification"]["false_accepts"] > 0 and plain["verify_repairs"] == 0
        calls_before = len(server.requests)

        repaired = suite("repaired", 2).games["TicTacToe-v0"]["result"]["learned"]
        assert repaired["verification"]["passed"] is True and repaired["verify_repairs"] == 1
        assert repaired["llm_calls"] == 2 and len(server.requests) == calls_before + 2

        again = suite("plain", 1, resume=True)  # the finished game that failed verification runs again
        learned = again.games["TicTacToe-v0"]["result"]["learned"]
        assert learned["verification"]["passed"] is True and learned["verify_repairs"] == 1
        assert again.config.refine_on_verify == 1
        assert json.loads((tmp_path / "plain" / "suite.json").read_text())["config"]["refine_on_verify"] == 1
        assert "return True" not in (tmp_path / "plain" / "games" / "TicTacToe-v0" / "harness.py").read_text()


def test_refine_on_verify_rounds_are_per_game_in_all_not_per_resume(tmp_path):
    """A game that used its repair rounds and still fails verification is not run again by a resume with the
    same rounds (each resume granted the rounds anew: the campaign re-ran doomed repairs); raising the rounds
    grants only the difference, and the game records the rounds its run holds in all."""

    def reply(body: dict) -> str:
        return f"```python\n{TICTACTOE_ACCEPTS_ALL}```\n"  # never repaired: verification keeps refuting it

    learn = dataclasses.replace(LEARN, probe=False, verify_positions=40)
    with FakeOpenAIServer(reply) as server:

        def suite(rounds, resume):
            config = (
                SuiteConfig(
                    games=["TicTacToe-v0"],
                    learn=learn,
                    llm="fake-model",
                    base_url=server.base_url,
                    eval_agent="none",
                    refine_on_verify=rounds,
                )
                if not resume
                else None
            )
            executor = LocalExecutor(1)
            try:
                return run_suite(
                    tmp_path / "s", executor, config=config, resume=resume, refine_on_verify=rounds
                ).games["TicTacToe-v0"]
            finally:
                executor.close()

        first = suite(1, resume=False)
        assert first["result"]["learned"]["verification"]["passed"] is False
        assert first["result"]["learned"]["verify_repairs"] == 1 and len(server.requests) == 2

        same = suite(1, resume=True)
        assert len(server.requests) == 2  # no round left: not run again
        assert same["finished"] == first["finished"] and same["result"] == first["result"]

        more = suite(2, resume=True)
        assert len(server.requests) == 3  # one more round, not two
        assert more["result"]["learned"]["verify_repairs"] == 2
        assert more["result"]["learned"]["verification"]["passed"] is False


def test_variants_of_a_family_with_a_library_harness_run_in_parallel(tmp_path):
    """Once a family has a library harness its variants start from it at the same time (a variant that does
    not converge, like a blind one, held the rest of its family back); with none they wait for the first."""

    def suite(name: str, library: Path | None, games: str) -> list[tuple[str, str]]:
        config = SuiteConfig(
            games=select_games(games),
            learn=dataclasses.replace(LEARN, verify_positions=0),
            llm="fake-model",
            base_url=server.base_url,
            eval_agent="none",
            library=str(library or tmp_path / f"{name}-library"),
        )
        events: list[tuple[str, str]] = []
        executor = LocalExecutor(2)
        try:
            run_suite(
                tmp_path / name, executor, config=config, on_event=lambda g, s, r: events.append((g, s))
            )
        finally:
            executor.close()
        return events

    with FakeOpenAIServer(scripted_reply) as server:
        _seeded_library(tmp_path / "lib")
        seeded = suite("seeded", tmp_path / "lib", "ConnectFour-v0-large,ConnectFour-v0-blind")
        assert seeded[:2] == [("ConnectFour-v0-blind", "running"), ("ConnectFour-v0-large", "running")]
        fresh = suite("fresh", None, "ConnectFour-v0,ConnectFour-v0-large")
        assert fresh[:3] == [
            ("ConnectFour-v0", "running"),
            ("ConnectFour-v0", "done"),
            ("ConnectFour-v0-large", "running"),
        ]


def test_rerun_learns_exactly_the_named_games_again(tmp_path, capsys, monkeypatch):
    """``suite --resume --rerun``: the named game's record, directory and library entry go, the game is
    learned again (its shared-cache replies reused, so the endpoint is not asked again); the others stay."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    out, library = tmp_path / "s", Library(tmp_path / "lib")
    with FakeOpenAIServer(scripted_reply) as server:
        config = SuiteConfig(
            games=["TicTacToe-v0", "Nim-v0", "Nim-v0-large"],
            learn=LEARN,
            llm="fake-model",
            base_url=server.base_url,
            eval_agent="none",
            library=str(library.root),
            cache=str(tmp_path / "shared_cache.sqlite"),
        )
        executor = LocalExecutor(1)
        try:
            before = run_suite(out, executor, config=config)
        finally:
            executor.close()
        assert {g: r["status"] for g, r in before.games.items()} == dict.fromkeys(config.games, "done")
        assert before.games["Nim-v0-large"]["result"]["seeded_from"] == "Nim-v0"
        asked = len(server.requests)
        nim_dir, ttt_dir = out / "games" / "Nim-v0", out / "games" / "TicTacToe-v0"
        (nim_dir / "note.txt").write_text("from the first run")
        (ttt_dir / "note.txt").write_text("from the first run")
        run_ids = {
            g: read_summary(out / "games" / g / "learn" / "summary.json")["run_id"]
            for g in ("Nim-v0", "TicTacToe-v0")
        }
        nim_entry = library.get("Nim-v0", "verifier")
        assert nim_entry is not None and nim_entry.source == str(nim_dir)
        entry_file = library.root / "Nim-v0" / "Nim-v0.verifier.json"
        stored_at = entry_file.stat().st_mtime_ns
        suite_json = json.loads((out / "suite.json").read_text())

        common = ["suite", "--out", str(out), "--workers", "1"]
        assert main([*common, "--resume", "--rerun", "Nim-v0,Chezz-v0"]) == 2  # unknown: nothing touched
        assert main([*common, "--rerun", "Nim-v0"]) == 2  # without --resume
        err = capsys.readouterr().err.strip().splitlines()
        assert (
            len(err) == 2 and "not in the suite" in err[0] and "Chezz-v0" in err[0] and "--resume" in err[1]
        )
        assert json.loads((out / "suite.json").read_text())["games"] == suite_json["games"]
        assert (nim_dir / "note.txt").is_file()

        # Nim-v0-large started from Nim-v0's harness: rerun alone, Nim-v0 would start from that copy of its
        # own harness (recorded as reused from Nim-v0-large, its learning run gone). Refused, nothing touched.
        assert main([*common, "--resume", "--rerun", "Nim-v0"]) == 2
        err = capsys.readouterr().err.strip()
        assert "Nim-v0-large started from its harness" in err and "\n" not in err
        assert json.loads((out / "suite.json").read_text())["games"] == suite_json["games"]

        assert main([*common, "--resume", "--rerun", "Nim-v0,Nim-v0-large"]) == 0
    after = SuiteManifest.load(out)
    nim, ttt = after.games["Nim-v0"], after.games["TicTacToe-v0"]
    assert ttt == suite_json["games"]["TicTacToe-v0"]  # untouched: same record, same directory
    assert (ttt_dir / "note.txt").is_file()
    assert read_summary(ttt_dir / "learn" / "summary.json")["run_id"] == run_ids["TicTacToe-v0"]
    # Nim: a new run from nothing (not reused from its old library entry), a fresh record and directory.
    assert nim["status"] == "done" and nim["attempts"] == 1  # a fresh record (not attempt 2)
    assert nim["result"]["reused"] is False and nim["result"]["learned"]["llm_calls"] >= 1
    assert not (nim_dir / "note.txt").exists()
    assert read_summary(nim_dir / "learn" / "summary.json")["run_id"] != run_ids["Nim-v0"]
    assert entry_file.stat().st_mtime_ns != stored_at  # the old entry was removed, the new run stored its own
    assert len(server.requests) == asked  # the shared cache answered the same requests
