"""A harness's verification travels with it: the library stores it and prefers a verified harness; the report
and ``library list`` show it."""

from __future__ import annotations

import pytest

from autoharness.cli import main
from autoharness.errors import ConfigError
from autoharness.learn.config import LearnConfig
from autoharness.learn.loop import learn
from autoharness.library import Library, LibraryEntry
from autoharness.report import write_report
from autoharness.verify import brief, verify_harness
from tests.fakes import ScriptedLLM
from tests.learn.tictactoe import GOOD
from tests.test_verify import GOOD as GOOD_CODE
from tests.test_verify import RARE_FALSE_ACCEPT


def entry(code: str, rate: float, verification: dict | None) -> LibraryEntry:
    return LibraryEntry("TicTacToe-v0", "verifier", code, rate, verification=verification)


def test_the_library_prefers_a_verified_harness_and_keeps_its_figures(tmp_path) -> None:
    passed = brief(verify_harness("TicTacToe-v0", GOOD_CODE, positions=60).to_dict())
    failed = brief(verify_harness("TicTacToe-v0", RARE_FALSE_ACCEPT, positions=300).to_dict())
    assert passed["passed"] and not failed["passed"] and "counterexamples" not in failed
    lib = Library(tmp_path)
    assert lib.put(entry(RARE_FALSE_ACCEPT, 1.0, failed))
    assert lib.put(entry(GOOD_CODE, 0.9, passed))  # verified beats a higher training legal rate
    assert not lib.put(entry(RARE_FALSE_ACCEPT, 1.0, None))  # nor does an unverified one replace it
    stored = lib.get("TicTacToe-v0", "verifier")
    assert stored.code == GOOD_CODE and stored.verified and stored.verification == passed
    assert lib.best_for("TicTacToe-v0", "verifier").verified
    assert main(["library", "list", "--library", str(tmp_path)]) == 0


def test_library_list_and_show_say_whether_a_harness_was_verified(tmp_path, capsys) -> None:
    lib = Library(tmp_path)
    lib.put(
        entry(GOOD_CODE, 1.0, {"passed": True, "positions": 60, "disagreements": 0, "headline": "verified"})
    )
    assert main(["library", "list", "--library", str(tmp_path)]) == 0
    assert "verified on 60 positions, 0 disagreements" in capsys.readouterr().out
    assert main(["library", "show", "TicTacToe-v0", "--library", str(tmp_path)]) == 0
    assert "# verification: verified" in capsys.readouterr().out


def test_a_malformed_stored_verification_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="verification must be an object"):
        LibraryEntry.from_dict(
            {"game": "TicTacToe-v0", "mode": "verifier", "code": "x", "legal_rate": 1, "verification": "yes"},
            "f",
        )


def test_the_report_shows_the_verification_of_a_learn_run(tmp_path) -> None:
    run = tmp_path / "run"
    config = LearnConfig(n_envs=3, parallelism=1, verify_positions=40)
    learn("TicTacToe-v0", config, ScriptedLLM(lambda m: GOOD), run)
    page = write_report(run).read_text()
    assert "verified (held-out positions)" in page and "pass (40)" in page
