"""Bad input from a user (odd flags, wrong paths, damaged or hand-edited files, a second process on the same
directory) is one line on stderr and exit 2, before any work; nothing is lost."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from autoharness._files import dir_lock
from autoharness._terminal import printable
from autoharness.cli import main
from autoharness.evaluate import AgentSpec, evaluate, save_eval
from autoharness.learn.config import LearnConfig
from autoharness.learn.loop import learn
from tests.fakes import ScriptedLLM
from tests.learn.tictactoe import GOOD
from tests.run_store import nodes


def one_line_exit_2(capsys, argv: list[str]) -> str:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "Traceback" not in err[0], (code, err)
    return err[0]


@pytest.mark.parametrize(
    "argv",
    [
        ["learn", "TicTacToe-v0", "--heuristic-weight", "nan"],  # hung the scheduler at 100% CPU
        ["learn", "TicTacToe-v0", "--heuristic-weight", "inf"],
        ["learn", "TicTacToe-v0", "--max-wall-seconds", "nan"],
        ["learn", "TicTacToe-v0", "--explore", "-0.5"],
        ["suite", "--game-timeout", "-1"],  # left suite.json "running" and every --resume crashed
        ["suite", "--game-timeout", "nan"],
        ["suite", "--matches", "0"],
        ["suite", "--max-cost-usd", "inf"],
        ["eval", "TicTacToe-v0", "--agent", "random", "--max-steps", "0"],
        ["eval", "TicTacToe-v0", "--agent", "random", "--matches", "-3"],
        ["eval", "TicTacToe-v0", "--agent", "llm:m", "--temperature", "nan"],
        ["rollout", "TicTacToe-v0", "--harness", "h.py", "--episodes", "0"],
        ["play", "TicTacToe-v0", "--seat", "-1"],
    ],
)
def test_numeric_flags_reject_nan_inf_and_out_of_range_values_at_parse_time(capsys, argv):
    line = one_line_exit_2(capsys, argv)
    assert "error: " in line  # argparse (the flag types) or LearnConfig, before any work


def test_learn_config_rejects_nan_through_the_api_too():
    from autoharness.errors import ConfigError

    with pytest.raises(ConfigError, match="heuristic_weight must be a finite number"):
        LearnConfig(heuristic_weight=float("nan"))


def test_suite_inputs_are_checked_before_any_game_is_learned(capsys, tmp_path):
    out = tmp_path / "suite"
    assert "selects no games" in one_line_exit_2(capsys, ["suite", "--games", "", "--out", str(out)])
    argv = ["suite", "--games", "TicTacToe-v0", "--eval-agent", "bogus", "--out", str(out)]
    assert "unknown agent 'bogus'" in one_line_exit_2(capsys, argv)
    assert not out.exists()  # nothing started


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A finished one-node learning run on TicTacToe (scripted model)."""
    out = tmp_path_factory.mktemp("run") / "run"
    config = LearnConfig(n_envs=2, parallelism=1, max_iterations=1)
    learn("TicTacToe-v0", config, ScriptedLLM(lambda _: GOOD), out)
    return out


def test_paths_of_the_wrong_kind_are_one_line(capsys, tmp_path, run_dir):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(bytes(range(256)))
    cases = {
        ("learn", "TicTacToe-v0", "--llm", f"replay:{binary}", "--out", str(tmp_path / "r")): "not UTF-8",
        ("learn", "TicTacToe-v0", "--out", str(a_file)): "is a file",
        ("library", "export", str(tmp_path), "--library", str(tmp_path / "lib")): "is a directory",
        ("report", str(run_dir), "--out", str(tmp_path)): "is a directory",
        ("eval", "TicTacToe-v0", "--agent", "random", "--out", str(a_file)): "is a file",
    }
    for argv, said in cases.items():
        assert said in one_line_exit_2(capsys, list(argv)), argv


def test_a_hand_edited_summary_is_one_line(capsys, tmp_path, run_dir):
    edited = tmp_path / "edited"
    edited.mkdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    for tree in ("x", [1], [{"id": 1, "parent": None, "h": "high"}]):
        (edited / "summary.json").write_text(json.dumps(summary | {"tree": tree}))
        assert "not a run as autoharness writes it" in one_line_exit_2(capsys, ["report", str(edited)])


def test_resuming_a_damaged_run_store_is_one_line(capsys, tmp_path, run_dir):
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "run.sqlite").write_bytes((run_dir / "run.sqlite").read_bytes())
    with sqlite3.connect(damaged / "run.sqlite") as db:  # a value that no longer decodes (a bad page)
        db.execute("UPDATE meta SET value = CAST(x'ff00fe' AS TEXT) WHERE key = 'config'")
    line = one_line_exit_2(capsys, ["learn", "TicTacToe-v0", "--out", str(damaged), "--resume"])
    assert "is damaged" in line


def test_a_run_directory_in_use_is_refused(capsys, run_dir):
    before = nodes(run_dir, "id")
    from autoharness.learn.command import bundled_transcript

    replay = f"replay:{bundled_transcript('TicTacToe-v0', 'verifier')}"
    argv = ["learn", "TicTacToe-v0", "--llm", replay, "--out", str(run_dir), "--resume"]
    argv += ["--max-iterations", "3"]
    with dir_lock(run_dir, "learn run"):  # another learner holds it (flock: same rules across processes)
        assert "is in use by another learn run" in one_line_exit_2(capsys, argv)
    assert nodes(run_dir, "id") == before  # no duplicate children


def test_a_suite_directory_in_use_is_refused(capsys, tmp_path):
    out = tmp_path / "suite"
    out.mkdir()
    argv = ["suite", "--games", "TicTacToe-v0", "--out", str(out), "--eval-agent", "none"]
    with dir_lock(out, "suite"):
        assert "is in use by another suite" in one_line_exit_2(capsys, argv)
    assert not (out / "suite.json").exists()


def test_eval_results_survive_a_failed_write(tmp_path):
    from autoharness.errors import ConfigError

    results = evaluate("TicTacToe-v0", [AgentSpec.parse("random")], matches=2)
    out = tmp_path / "eval"
    (out / "eval.json").mkdir(parents=True)  # the write fails (as on a full disk) after the matches
    with pytest.raises(ConfigError, match="the results were saved to ") as caught:
        save_eval(out, results, harness_path=None, harness_source=None)
    kept = Path(str(caught.value).rsplit("saved to ", 1)[1].split(" instead")[0])
    try:
        assert json.loads(kept.read_text())["results"][0]["matches"] == 2
    finally:
        kept.unlink()


def test_harness_output_is_printed_escaped(tmp_path, capsys):
    forged = "\x1b[2J\nlegal_rate 1.0000 over 9 steps"
    harness = tmp_path / "h.py"
    harness.write_text(
        f"def propose_action(obs):\n    raise ValueError({forged!r})\n"
        "def is_legal_action(obs, action):\n    return True\n"
    )
    assert main(["rollout", "TicTacToe-v0", "--harness", str(harness)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\nlegal_rate 1.0000" not in out
    assert "\\x1b[2J\\nlegal_rate 1.0000" in out and out.rstrip().endswith("legal_rate 0.0000 over 1 steps")
    assert printable("a\u202eb\tc") == "a\\u202eb\\tc"
