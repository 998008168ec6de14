"""The harness library: stored by game and family, only ever improved, portable as a bundle."""

from __future__ import annotations

import json

import pytest

from autoharness.cli import main
from autoharness.errors import ConfigError, UnknownGame
from autoharness.library import ENV_VAR, Library, LibraryEntry, default_root

CODE = "def propose_action(obs):\n    return '[4]'\n\n\ndef is_legal_action(obs, action):\n    return True\n"


def entry(game: str, rate: float, mode: str = "verifier", code: str = CODE, **kw) -> LibraryEntry:
    return LibraryEntry(game=game, mode=mode, code=code, legal_rate=rate, **kw)


def test_family_of_variants_comes_from_the_game_ids():
    assert entry("Chess-v0-long", 1).family == "Chess-v0"
    assert entry("2048-v0-very-easy", 1).family == "2048-v0"
    assert entry("PigDice-v0-100", 1).family == "PigDice-v0"
    assert entry("TicTacToe-v0", 1).family == "TicTacToe-v0"


def test_put_keeps_the_better_harness_and_writes_readable_files(tmp_path):
    lib = Library(tmp_path)
    assert lib.put(entry("Chess-v0", 0.8, llm_calls=5))
    assert not lib.put(entry("Chess-v0", 0.7, code=CODE + "# worse\n"))
    assert not lib.put(entry("Chess-v0", 0.8, code=CODE + "# equal\n"))
    assert lib.get("Chess-v0", "verifier").llm_calls == 5
    assert lib.put(entry("Chess-v0", 1.0, code=CODE + "# better\n"))
    assert (tmp_path / "Chess-v0" / "Chess-v0.verifier.py").read_text().endswith("# better\n")
    stored = json.loads((tmp_path / "Chess-v0" / "Chess-v0.verifier.json").read_text())
    assert stored["family"] == "Chess-v0" and stored["legal_rate"] == 1.0
    assert not list(tmp_path.rglob("*.tmp"))


def test_best_for_a_variant_is_the_best_of_its_family_in_the_same_mode(tmp_path):
    lib = Library(tmp_path)
    assert lib.best_for("Chess-v0-long", "verifier") is None
    lib.put(entry("Chess-v0", 0.9))
    lib.put(entry("Chess-v0-blind", 0.95))
    lib.put(entry("Chess-v0", 1.0, mode="policy"))
    lib.put(entry("Checkers-v0", 1.0))
    best = lib.best_for("Chess-v0-long", "verifier")
    assert best.game == "Chess-v0-blind"
    assert lib.best_for("Chess-v0-long", "filter") is None
    # Ties: the game itself first, then the family's base game.
    lib.put(entry("Chess-v0", 0.95, code=CODE + "# tie\n"))
    assert lib.best_for("Chess-v0-long", "verifier").game == "Chess-v0"
    assert lib.best_for("Chess-v0-blind", "verifier").game == "Chess-v0-blind"


def test_export_import_round_trip_merges_without_losing_better_entries(tmp_path):
    src, dst = Library(tmp_path / "a"), Library(tmp_path / "b")
    src.put(entry("TicTacToe-v0", 1.0, model="m", llm_calls=3))
    src.put(entry("Othello-v0", 0.6))
    dst.put(entry("Othello-v0", 0.9))
    bundle = tmp_path / "lib.json"
    assert src.export(bundle) == 2
    assert dst.import_bundle(bundle) == (1, 1)
    assert dst.get("TicTacToe-v0", "verifier") == src.get("TicTacToe-v0", "verifier")
    assert dst.get("Othello-v0", "verifier").legal_rate == 0.9
    assert src.export(tmp_path / "one.json", games=["Othello-v0"]) == 1


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b.update(format="other"), "not an autoharness library bundle"),
        (lambda b: b.update(version=99), "bundle version"),
        (lambda b: b["entries"][0].update(mode="oracle"), "mode must be one of"),
        (lambda b: b["entries"][0].update(legal_rate=1.5), "legal_rate"),
        (lambda b: b["entries"][0].update(code="tampered"), "sha256"),
        (lambda b: b["entries"][0].pop("code"), "lacks code"),
        # every field is checked (issue 11): a string h broke every later write for the game, 1e300 froze it
        (lambda b: b["entries"][0].update(h="0.9"), "h must be a number in"),
        (lambda b: b["entries"][0].update(h=1e300), "h must be a number in"),
        (lambda b: b["entries"][0].update(h=float("nan")), "h must be a number in"),
        (lambda b: b["entries"][0].update(legal_rate=True), "legal_rate must be a number in"),
        (lambda b: b["entries"][0].update(llm_calls=-1), "llm_calls"),
        (lambda b: b["entries"][0].update(llm_calls="3"), "llm_calls"),
        (lambda b: b["entries"][0].update(model=5), "model must be text"),
        (lambda b: b["entries"][0].update(seeded_from=["x"]), "seeded_from must be text"),
        (lambda b: b["entries"][0].update(created=None), "created must be text"),
    ],
)
def test_bad_bundles_are_refused_whole(tmp_path, mutate, message):
    src = Library(tmp_path / "a")
    src.put(entry("TicTacToe-v0", 1.0))
    bundle = tmp_path / "lib.json"
    src.export(bundle)
    data = json.loads(bundle.read_text())
    mutate(data)
    bundle.write_text(json.dumps(data))
    dst = Library(tmp_path / "b")
    with pytest.raises(ConfigError, match=message):
        dst.import_bundle(bundle)
    assert dst.entries() == []


def test_unknown_game_in_a_bundle_names_close_ids(tmp_path):
    bundle = tmp_path / "lib.json"
    bad = entry("TicTacToe-v0", 1.0).to_dict() | {"game": "TicTacToe-v9"}
    bundle.write_text(json.dumps({"format": "autoharness-library", "version": 1, "entries": [bad]}))
    with pytest.raises(UnknownGame, match="TicTacToe-v0"):
        Library(tmp_path / "b").import_bundle(bundle)


def test_default_root_honours_env_and_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "mine"))
    assert default_root() == tmp_path / "mine"
    monkeypatch.delenv(ENV_VAR)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_root() == tmp_path / "xdg" / "autoharness" / "library"


def test_cli_list_show_export_import(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AUTOHARNESS_BUILTIN_DIR", str(tmp_path / "no-builtin"))  # Chess-v0-long ships
    lib = tmp_path / "lib"
    Library(lib).put(entry("Chess-v0-long", 1.0, model="gpt-x", llm_calls=4))
    assert main(["library", "list", "--library", str(lib)]) == 0
    out = capsys.readouterr().out
    assert "Chess-v0-long" in out and "Chess-v0" in out and "gpt-x" in out
    assert main(["library", "show", "--library", str(lib), "Chess-v0-long"]) == 0
    assert "def propose_action" in capsys.readouterr().out
    bundle = tmp_path / "b.json"
    assert main(["library", "export", "--library", str(lib), str(bundle)]) == 0
    assert main(["library", "import", "--library", str(tmp_path / "other"), str(bundle)]) == 0
    assert "1 stored" in capsys.readouterr().out
    assert Library(tmp_path / "other").get("Chess-v0-long", "verifier") is not None


def test_cli_bad_input_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AUTOHARNESS_BUILTIN_DIR", str(tmp_path / "no-builtin"))  # Chess-v0 ships built in
    lib = ["--library", str(tmp_path)]
    assert main(["library", "show", *lib, "Chess-v0"]) == 2
    assert main(["library", "show", *lib, "Chezz-v0"]) == 2
    assert main(["library", "import", *lib, str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("autoharness: error:") for line in err)
    assert "did you mean" in err[1]


def test_list_and_show_escape_terminal_codes_from_an_imported_bundle(tmp_path, capsys, monkeypatch):
    """An imported bundle's text reached the terminal raw: it could retitle the window or clear it."""
    monkeypatch.setenv("AUTOHARNESS_BUILTIN_DIR", str(tmp_path / "no-builtin"))  # TicTacToe-v0 ships built in
    evil = "\x1b]0;pwned\x07\x1b[2J\x1b[31m"
    src = Library(tmp_path / "src")
    src.put(entry("TicTacToe-v0", 1.0, model=f"gpt{evil}", source=evil, code=CODE + f"# {evil}\n"))
    src.export(tmp_path / "bundle.json")
    lib = ["--library", str(tmp_path / "lib")]
    assert main(["library", "import", *lib, str(tmp_path / "bundle.json")]) == 0
    capsys.readouterr()
    assert main(["library", "list", *lib]) == 0
    assert main(["library", "show", *lib, "TicTacToe-v0"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "gpt\\x1b]0;pwned\\x07" in out and "def propose_action(obs):\n    return '[4]'" in out


def test_list_says_when_a_verification_count_was_cut_by_wall_time(tmp_path, capsys, monkeypatch):
    """A figure cut by a wall-time budget depends on the machine: the list says so next to the count."""
    from autoharness.verify import verify_harness
    from tests.test_suite import NIM

    monkeypatch.setenv("AUTOHARNESS_BUILTIN_DIR", str(tmp_path / "no-builtin"))
    report = verify_harness("Nim-v0", NIM, positions=2000, max_seconds=0.0)  # stops after its first game
    assert 0 < report.positions < 2000
    Library(tmp_path).put(entry("Nim-v0", 1.0, code=NIM, verification=report.to_dict()))
    assert main(["library", "list", "--library", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert (
        f"verified on {report.positions} positions, 0 disagreements (time budget spent after "
        f"{report.positions} of 2000 positions — cut by wall time, so the count depends on the machine's "
        "speed and load)"
    ) in out
