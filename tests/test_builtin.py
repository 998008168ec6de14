"""The built-in library layer: shipped from real suites (scripted model), then used with no model at
all — ``eval`` without ``--harness``, ``learn`` and ``suite`` replaying the shipped transcripts, and
``library list``."""

from __future__ import annotations

import dataclasses
import io
import json
import lzma
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autoharness.builtin import BUILTIN_ENV, BuiltinLibrary, LayeredLibrary
from autoharness.cli import main
from autoharness.errors import ConfigError
from autoharness.executors import LocalExecutor
from autoharness.learn.store import RunStore
from autoharness.library import Library, LibraryEntry
from autoharness.llm.cache import ResponseCache
from autoharness.llm.transcript import read_transcript
from autoharness.replaycheck import first_difference
from autoharness.ship import ship
from autoharness.suite import SuiteConfig, SuiteManifest, run_suite, select_games
from autoharness.verify import TIME_CUT
from tests.llm.fake_openai import FakeOpenAIServer
from tests.test_suite import LEARN, TICTACTOE, scripted_reply

RUN = {"capture_output": True, "text": True, "timeout": 120, "cwd": Path(__file__).resolve().parent.parent}
VERIFIER_GAMES = "ConnectFour-v0,ConnectFour-v0-large,ConnectFour-v0-blind,TicTacToe-v0,Othello-v0"
LEARN_HERE = dataclasses.replace(LEARN, verify_positions=12)


def _suite(root, name, games, mode, server):
    config = SuiteConfig(
        games=select_games(games),
        learn=dataclasses.replace(LEARN_HERE, mode=mode),
        llm="fake-model",
        base_url=server.base_url,
        eval_agent="none",
        library=str(root / "campaign-library"),
        refine_on_verify=1,  # ConnectFour-v0-blind fails verification: one repair round, replayed too
    )
    executor = LocalExecutor(1)
    try:
        return run_suite(root / name, executor, config=config)
    finally:
        executor.close()


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """Two tiny campaigns (verifier: 5 games, one failing, one reused, one seeded; policy: 1 game),
    shipped into a built-in directory."""
    root = tmp_path_factory.mktemp("campaign")
    with FakeOpenAIServer(scripted_reply) as server:
        verifier = _suite(root, "suite-verifier", VERIFIER_GAMES, "verifier", server)
        policy = _suite(root, "suite-policy", "TowerOfHanoi-v0", "policy", server)
    summary = ship([root / "suite-verifier", root / "suite-policy"], root / "builtin")
    return root, verifier, policy, summary


@pytest.fixture
def offline(shipped, monkeypatch, tmp_path):
    """No model configured, the shipped layer in place, an empty user library."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv(BUILTIN_ENV, str(shipped[0] / "builtin"))
    monkeypatch.setenv("AUTOHARNESS_LIBRARY", str(tmp_path / "my-library"))
    return shipped


def test_ship_copies_harnesses_and_transcripts_unchanged(shipped):
    root, verifier, _policy, summary = shipped
    statuses = {g: r["status"] for g, r in verifier.games.items()}
    assert statuses["Othello-v0"] == "failed" and statuses["TicTacToe-v0"] == "done"
    builtin = BuiltinLibrary(root / "builtin")
    shipped_games = {(e.game, e.mode) for e in builtin.entries()}
    done = {(g, "verifier") for g, s in statuses.items() if s == "done"} | {("TowerOfHanoi-v0", "policy")}
    assert shipped_games == done and summary.entries == len(done)
    for entry in builtin.entries(mode="verifier"):  # byte for byte what the suite ended with
        game_dir = root / "suite-verifier" / "games" / entry.game
        assert entry.code == (game_dir / "harness.py").read_text()
        learned = verifier.games[entry.game]["result"]["learned"]
        assert (entry.llm_calls, entry.iterations) == (learned["llm_calls"], learned["iterations"])
        assert entry.verification == learned["verification"] and entry.model == "fake-model"
    # Transcripts: every learning run's recorded replies, provenance as recorded, the failed run's too.
    for game in ("TicTacToe-v0", "Othello-v0", "ConnectFour-v0-blind"):
        run = builtin.run(game, "verifier")
        assert run is not None and run.transcript is not None and run.transcript.name.endswith(".jsonl.xz")
        record = root / "suite-verifier" / "games" / game / "learn" / "llm_cache.sqlite"
        with ResponseCache(record) as cache:
            assert read_transcript(run.transcript) == list(cache.records())
    reused = builtin.run("ConnectFour-v0-large", "verifier")
    assert reused.reused and reused.transcript is None and reused.seed_game == "ConnectFour-v0"
    seeded = builtin.run("ConnectFour-v0-blind", "verifier")
    assert seeded.seed_game == "ConnectFour-v0" and not seeded.reused
    assert (seeded.refine_on_verify, seeded.verify_repairs) == (1, 1)
    assert seeded.seed_code == builtin.get("ConnectFour-v0", "verifier").code
    assert builtin.run("TicTacToe-v0", "verifier").seed_code is None
    assert [x["game"] for x in builtin.not_shipped] == ["Othello-v0"]
    assert "no usable harness" in builtin.not_shipped[0]["reason"]
    assert summary.transcript_bytes > 0 and "MB" in summary.lines()[1]


def test_eval_without_harness_uses_the_built_in_then_the_users(offline, capsys, tmp_path):
    out = ["--matches", "2", "--out", str(tmp_path / "e")]
    assert main(["eval", "TicTacToe-v0", "--agent", "policy", *out]) == 0
    err = capsys.readouterr().err
    assert "built-in library harness of TicTacToe-v0 (verifier mode)" in err
    assert "verified on 12 positions, 0 disagreements" in err and "learned by fake-model" in err
    saved = json.loads((tmp_path / "e" / "eval.json").read_text())
    assert saved["results"][0]["legal_rate"] == 1.0
    # A policy agent prefers a policy-mode harness; --json says which harness was taken.
    assert main(["eval", "TowerOfHanoi-v0", "--agent", "policy", "--json", *out]) == 0
    captured = capsys.readouterr()
    assert "built-in library harness of TowerOfHanoi-v0 (policy mode)" in captured.err
    taken = json.loads(captured.out)["library_harness"]
    assert taken["origin"] == "built-in"
    assert taken["sha256"] == BuiltinLibrary().get("TowerOfHanoi-v0", "policy").sha256
    # The user's own entry wins when it ranks at least as well; a worse one does not.
    shipped_entry = BuiltinLibrary().get("TicTacToe-v0", "verifier")
    mine = Library()
    mine.put(dataclasses.replace(shipped_entry, source="mine", verification=None))
    assert main(["eval", "TicTacToe-v0", "--agent", "policy", *out]) == 0
    assert "built-in library harness" in capsys.readouterr().err  # unverified ranks below verified
    mine.put(dataclasses.replace(shipped_entry, source="mine"))
    assert main(["eval", "TicTacToe-v0", "--agent", "policy", *out]) == 0
    assert "user library harness of TicTacToe-v0" in capsys.readouterr().err


def test_play_against_a_policy_opponent_takes_its_harness_from_the_library(offline, monkeypatch, capsys):
    moves = io.StringIO("".join(f"[{i}]\n" for i in range(9)) * 3)  # first free square, whatever is taken
    monkeypatch.setattr("sys.stdin", moves)
    assert main(["play", "TicTacToe-v0", "--opponent", "policy"]) == 0
    captured = capsys.readouterr()
    assert "opponent's harness: built-in library harness of TicTacToe-v0" in captured.err
    assert "game over after" in captured.out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["eval", "Chess-v0", "--agent", "policy"], "no harness for Chess-v0 usable by policy"),
        (["eval", "TowerOfHanoi-v0", "--agent", "verifier:m"], "(verifier or filter mode)"),
        (["eval", "Othello-v0", "--agent", "policy"], "no harness for Othello-v0"),  # its learning failed
        (["learn", "ConnectFour-v0-large"], "ConnectFour-v0's, reused unchanged"),
        (["library", "show", "Chess-v0"], "no harness for Chess-v0"),
        (["play", "Chess-v0", "--opponent", "policy"], "no harness for Chess-v0 usable by policy"),
    ],
)
def test_nothing_usable_is_one_line_and_exit_2(offline, capsys, tmp_path, argv, expected):
    assert main([*argv, "--out", str(tmp_path / "x")] if argv[0] in ("eval", "learn") else argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0]


def test_learn_without_a_model_replays_the_shipped_run(offline, capsys, tmp_path):
    root = offline[0]
    for game in ("TicTacToe-v0", "ConnectFour-v0-blind"):  # the second started from its family's harness
        out = tmp_path / game
        assert main(["learn", game, "--out", str(out)]) == 0  # the recorded config: verified, repaired
        captured = capsys.readouterr()
        assert (
            f"{game}.verifier.jsonl.xz" in captured.err
            and "its replies were openai-compatible:" in captured.err
        )
        summary = json.loads((out / "summary.json").read_text())
        recorded = json.loads(
            (root / "suite-verifier" / "games" / game / "learn" / "summary.json").read_text()
        )
        for key in ("iterations", "llm_calls", "legal_rate", "best_node", "tree"):
            assert summary[key] == recorded[key], key
    store = RunStore(tmp_path / "ConnectFour-v0-blind", create=False)
    try:
        assert store.nodes()[0].kind == "given"
    finally:
        store.close()


def test_suite_without_a_model_replays_the_shipped_campaign(offline, tmp_path):
    _root, verifier, _, _ = offline
    games = "ConnectFour-v0,ConnectFour-v0-large,ConnectFour-v0-blind,TicTacToe-v0"
    argv = ["suite", "--games", games, "--out", str(tmp_path / "s"), "--no-library", "--workers", "1"]
    argv += ["--eval-agent", "none", "--n-envs", "3", "--parallelism", "1", "--max-iterations", "2"]
    # A fresh process: a pool's fork server started by an earlier test would not see this test's env.
    command = [sys.executable, "-m", "autoharness.cli", *argv]
    done = subprocess.run(command, env=dict(os.environ), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    replayed = SuiteManifest.load(tmp_path / "s")
    for game, record in replayed.games.items():
        original = verifier.games[game]["result"]
        assert record["status"] == "done", game
        assert record["result"]["reused"] == original["reused"], game
        for key in ("llm_calls", "iterations", "legal_rate"):
            assert record["result"]["learned"][key] == original["learned"][key], (game, key)
    # The skeptic's check: every replayed game equals what ships, field by field and harness by harness.
    # ConnectFour-v0-large ships its family's harness reused unchanged: it must be scored and verified with
    # the campaign's settings (12 positions), not this suite's (verification off here).
    assert replayed.games["ConnectFour-v0-large"]["result"]["reused"]
    check = subprocess.run([*command[:3], "library", "check", str(tmp_path / "s")], **RUN)
    assert check.returncode == 0, check.stdout + check.stderr
    rows = {line.split()[0]: line.split(None, 3)[2:] for line in check.stdout.splitlines()[:-1]}
    assert {game: rows[game][0] for game in games.split(",")} == dict.fromkeys(games.split(","), "same")
    assert rows["Othello-v0"][0] == "not" and "4 same" in check.stdout  # shipped (failed), not replayed here


def test_library_check_names_what_differs_and_fails(offline, capsys, tmp_path):
    """``library check`` on learn run directories: equal to what ships but for the date and run id is
    "same" (exit 0); a changed figure, verification figure or harness line is named (exit 1); a run that
    stopped without its summary, and a suite game that hit a ``ReplayMiss``, fail as such."""
    run = tmp_path / "TicTacToe-v0"
    assert main(["learn", "TicTacToe-v0", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["library", "check", str(run)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == [
        "ConnectFour-v0",
        "verifier",
        "not",
    ]  # one row per shipped game
    assert "TicTacToe-v0                 verifier same" in out and "1 same" in out

    def copy(name: str) -> Path:
        target = tmp_path / name
        target.mkdir()
        for f in ("summary.json", "harness.py"):
            (target / f).write_bytes((run / f).read_bytes())
        return target

    code = (run / "harness.py").read_text()
    redated = copy("redated")
    lines = [("# date: 1999-01-01" if x.startswith("# date:") else x) for x in code.splitlines()]
    (redated / "harness.py").write_text("\n".join(lines) + "\n")
    assert main(["library", "check", str(redated)]) == 0
    capsys.readouterr()
    changed = copy("changed")
    summary = json.loads((run / "summary.json").read_text())
    summary["h"] = 0.5
    summary["verification"]["disagreements"] = 3
    summary["verification"]["positions"] = 5
    summary["verification"]["headline"] += f"; {TIME_CUT} after 5 of 12 positions"
    (changed / "summary.json").write_text(json.dumps(summary))
    body = code.splitlines()
    first = next(i for i, line in enumerate(body) if line and not line.startswith("#"))
    body[first] += "  # edited"
    (changed / "harness.py").write_text("\n".join(body) + "\n")
    assert main(["library", "check", str(changed), "--games", "TicTacToe-v0"]) == 1
    row = capsys.readouterr().out.splitlines()[0]  # the one game asked for
    assert row.split()[:3] == ["TicTacToe-v0", "verifier", "differs"], row
    assert "h 1.0000 → 0.5000; verification positions 12 → 5; verification disagreements 0 → 3" in row
    assert "the replayed verification was cut by its time budget" in row
    assert row.endswith(f"harness code from line {first + 1}")
    (run / "summary.json").unlink()  # the run as a ReplayMiss or a kill leaves it: no summary
    assert main(["library", "check", str(run), "--json"]) == 1
    found = {r["game"]: r for r in json.loads(capsys.readouterr().out)["rows"]}
    assert found["TicTacToe-v0"]["verdict"] == "stopped"
    assert main(["library", "check", str(run), str(changed)]) == 2  # the same game twice: which one?
    assert "replayed in both" in capsys.readouterr().err
    assert main(["library", "check", str(tmp_path / "nowhere")]) == 2
    # A transcript that is not the run's (TicTacToe-v0's replaced by ConnectFour-v0's): a ReplayMiss.
    swapped = tmp_path / "builtin"
    shutil.copytree(offline[0] / "builtin", swapped)
    transcripts = swapped / "transcripts"
    shutil.copy(
        transcripts / "ConnectFour-v0.verifier.jsonl.xz", transcripts / "TicTacToe-v0.verifier.jsonl.xz"
    )
    argv = [
        "suite",
        "--games",
        "TicTacToe-v0",
        "--out",
        str(tmp_path / "s"),
        "--no-library",
        "--workers",
        "1",
    ]
    command = [sys.executable, "-m", "autoharness.cli", *argv, "--eval-agent", "none"]
    env = dict(os.environ, **{BUILTIN_ENV: str(swapped)})
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    check = [sys.executable, "-m", "autoharness.cli", "library", "check", str(tmp_path / "s")]
    done = subprocess.run(check, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert any(
        line.split()[:3] == ["TicTacToe-v0", "verifier", "ReplayMiss"] for line in done.stdout.splitlines()
    )


def test_library_list_shows_every_game_with_its_origin_and_verification(offline, capsys):
    mine = Library()
    mine.put(LibraryEntry(game="Nim-v0", mode="verifier", code=TICTACTOE, legal_rate=0.5, iterations=3))
    assert main(["library", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line for line in lines if line.split()[0].endswith("-v0") or "-v0-" in line}
    assert set(rows) >= {"TicTacToe-v0", "ConnectFour-v0-large", "TowerOfHanoi-v0", "Nim-v0"}
    assert (
        "built-in" in rows["TicTacToe-v0"]
        and "verified on 12 positions, 0 disagreements" in rows["TicTacToe-v0"]
    )
    assert "user" in rows["Nim-v0"] and "not verified" in rows["Nim-v0"] and " 3 it" in rows["Nim-v0"]
    assert "policy" in rows["TowerOfHanoi-v0"]
    assert "FAILED verification:" in rows["ConnectFour-v0-blind"]  # shipped as what it is
    assert any("have no built-in harness (learning failed): Othello-v0 (verifier)" in line for line in lines)
    assert main(["library", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {(r["game"], r["origin"]) for r in listed} >= {("TicTacToe-v0", "built-in"), ("Nim-v0", "user")}
    assert all("code" not in r for r in listed)


def test_layered_lookup_prefers_the_user_on_ties_only(offline):
    builtin = BuiltinLibrary()
    shipped_entry = builtin.get("ConnectFour-v0", "verifier")
    mine = Library()
    layered = LayeredLibrary(mine, builtin)
    assert layered.get("ConnectFour-v0", "verifier").origin == "built-in"
    mine.put(dataclasses.replace(shipped_entry, legal_rate=0.9, verification=None, h=0.9))
    found = layered.get("ConnectFour-v0", "verifier")
    assert found.origin == "built-in" and found.shadowed.legal_rate == 0.9
    assert layered.first("TowerOfHanoi-v0", ("verifier", "policy")).entry.mode == "policy"


def test_ship_refuses_bad_input_and_replaces_the_layer_whole(shipped, tmp_path):
    root = shipped[0]
    with pytest.raises(ConfigError, match="is in two suites"):
        ship([root / "suite-policy", root / "suite-policy"], tmp_path / "b")
    with pytest.raises(ConfigError, match="no suite to resume"):
        ship([tmp_path], tmp_path / "b")
    assert not (tmp_path / "b").exists()
    out = tmp_path / "b"
    ship([root / "suite-verifier", root / "suite-policy"], out)
    assert (out / "transcripts" / "TowerOfHanoi-v0.policy.jsonl.xz").is_file()
    ship([root / "suite-verifier"], out)  # rebuilt from fewer suites: nothing of the old one lingers
    assert not (out / "transcripts" / "TowerOfHanoi-v0.policy.jsonl.xz").exists()
    assert BuiltinLibrary(out).get("TowerOfHanoi-v0", "policy") is None
    assert not list(tmp_path.glob("b.*"))
    # The shipped bundle is an ordinary library bundle: `autoharness library import` takes it as it is.
    assert Library(tmp_path / "lib").import_bundle(out / "library.json.xz") == (4, 0)


def test_the_ship_script_is_the_one_command(shipped, tmp_path):
    root = shipped[0]
    script = [sys.executable, "scripts/ship_library.py"]
    done = subprocess.run([*script, str(root / "suite-verifier"), "--out", str(tmp_path / "o")], **RUN)
    assert done.returncode == 0, done.stderr
    assert "4 harnesses (3 verified, 1 failed verification, 0 not verified)" in done.stdout
    assert "shipped, marked as failing verification: ConnectFour-v0-blind" in done.stdout
    assert "size:" in done.stdout
    assert "not shipped: Othello-v0 (verifier): failed:" in done.stdout
    done = subprocess.run([*script, str(tmp_path / "nowhere"), "--out", str(tmp_path / "p")], **RUN)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "no suite to resume" in done.stderr
    assert not (tmp_path / "p").exists()


def test_a_damaged_shipped_file_is_a_one_line_error(offline, capsys, tmp_path):
    copy = tmp_path / "builtin"
    copy.mkdir()
    (copy / "library.json.xz").write_bytes(b"not xz")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(BUILTIN_ENV, str(copy))
        assert main(["eval", "TicTacToe-v0", "--agent", "policy", "--out", str(tmp_path / "e")]) == 2
    assert "cannot read" in capsys.readouterr().err
    broken = tmp_path / "t.jsonl.xz"
    broken.write_bytes(lzma.compress(b"{not json\n"))
    with pytest.raises(ConfigError, match="not an autoharness transcript record"):
        read_transcript(broken)
    broken.write_bytes(b"\xfd7zXZ\x00garbage")
    with pytest.raises(ConfigError, match="damaged compressed file"):
        read_transcript(broken)


def test_a_shipped_campaign_run_replays_to_the_figures_it_ships(monkeypatch, tmp_path):
    """The real shipped layer, not a scripted campaign: ``learn`` with no model replays Othello-v0's
    campaign run (a refinement; a game with a move list, so its verification is exact) and gets back what
    ships — iterations, LLM calls, legal rate, H, the verification figures (on the run's recorded 300
    positions, not this suite's ``$AUTOHARNESS_VERIFY_POSITIONS`` of 0) and the harness itself, all but its
    date and run id. Expected figures are read from the shipped library: a re-ship that changes this run,
    or code that stops replaying it, fails here."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv(BUILTIN_ENV, raising=False)
    monkeypatch.setenv("AUTOHARNESS_LIBRARY", str(tmp_path / "my-library"))
    game = "Othello-v0"
    shipped = BuiltinLibrary().get(game, "verifier")
    assert shipped is not None and shipped.llm_calls >= 2 and shipped.verification is not None
    out = tmp_path / "replay"
    assert main(["learn", game, "--out", str(out), "--no-cache"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    for key in ("iterations", "llm_calls", "legal_rate", "h"):
        assert summary[key] == getattr(shipped, key), key
    for key in ("positions", "disagreements", "dead_positions", "false_accepts", "false_rejects", "passed"):
        assert summary["verification"][key] == shipped.verification[key], key
    # byte for byte but the header lines a replay rewrites (its date and run id)
    assert first_difference(shipped.code, (out / "harness.py").read_text()) is None
