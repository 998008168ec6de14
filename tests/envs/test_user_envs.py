"""Your own environment as a game id (``package.module:attr``, the ``autoharness.envs`` entry-point group,
``--players``) and ``autoharness check-env``: real envs (``examples/stones.py``, a TextArena game through a
factory), broken copies of them (``user_games``), one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from autoharness.cli import main
from autoharness.envcheck import check_env
from autoharness.envs import get_spec, list_games, make, user
from autoharness.envs.textarena import TextArenaEnv
from autoharness.errors import ConfigError, UnknownGame

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HELPERS = "tests.envs.user_games"


@pytest.fixture
def in_examples(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from ``examples/`` as the tutorial does (the id ``stones:Stones`` imports ``stones.py`` there)."""
    monkeypatch.chdir(EXAMPLES)


@pytest.fixture(autouse=True)
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """No player counts or entry points left over from another test."""
    monkeypatch.setattr(user, "_PLAYERS", {})
    user._resolve.cache_clear()
    user.entry_points.cache_clear()
    yield
    user._resolve.cache_clear()
    user.entry_points.cache_clear()


def test_module_attr_id_builds_the_users_env(in_examples: None) -> None:
    spec = get_spec("stones:Stones")
    assert (spec.source, spec.players, spec.family, spec.eval_set) == ("user", 2, "stones:Stones", False)
    env = make("stones:Stones")
    turn = env.reset(3)
    assert turn.player == 0 and "18 stones are left" in turn.observation
    assert make("stones:Stones") is not env  # a fresh env each time
    assert not env.clone().step("[take 3]").legal  # 18 is even
    assert env.step("[take 2]").legal


def test_a_textarena_factory_runs_through_the_textarena_adapter() -> None:
    game = f"{HELPERS}:small_guess"
    assert get_spec(game).players == 1
    env, twin = make(game), make(game)
    assert isinstance(env, TextArenaEnv)
    first = env.reset(4)
    assert "Guess The Number" in first.observation and twin.reset(4) == first
    for guess in ("[5]", "[2]", "[8]"):  # same seed, same secret number: same answers
        step, twin_step = env.step(guess), twin.step(guess)
        assert step == twin_step and step.legal
        if step.done:
            break
    bad = make(game)
    bad.reset(4)
    assert not bad.step("[99]").legal


def test_players_come_from_the_env_or_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    game = "textarena.envs.GuessTheNumber.env:GuessTheNumberEnv"  # a textarena.Env subclass, no num_players
    with pytest.raises(ConfigError, match="pass --players N"):
        get_spec(game)
    assert main(["show", game, "--players", "1", "--seed", "2"]) == 0
    assert "Guess The Number" in capsys.readouterr().out
    assert get_spec(game).players == 1
    assert main(["show", "TicTacToe-v0", "--players", "3"]) == 2
    assert "package.module:attr games only" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("game", "message"),
    [
        ("no_such_module_xyz:Game", "cannot import module 'no_such_module_xyz'"),
        (f"{HELPERS}:Nope", "has no attribute 'Nope'"),
        (f"{HELPERS}:stones_instance.pile", "not callable"),
        (f"{HELPERS}:not_an_env", "neither a textarena.Env nor an autoharness Env (missing: reset"),
    ],
)
def test_bad_user_ids_are_one_line_exit_2(game: str, message: str, capsys) -> None:
    assert main(["show", game]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_an_env_instance_is_cloned_for_each_game() -> None:
    game = f"{HELPERS}:stones_instance"
    first, second = make(game), make(game)
    first.reset(0)
    second.reset(1)
    assert first is not second and first.pile != second.pile  # type: ignore[attr-defined]


def test_entry_point_group_registers_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_examples: None, capsys: pytest.CaptureFixture[str]
) -> None:
    dist = tmp_path / "stones_pkg-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: stones-pkg\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[autoharness.envs]\nStones-v0 = stones:Stones\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    user.entry_points.cache_clear()
    spec = get_spec("Stones-v0")
    assert (spec.source, spec.players) == ("user", 2)
    assert "18 stones are left" in make("Stones-v0").reset(3).observation
    assert [g.id for g in list_games("user")] == ["Stones-v0"]
    with pytest.raises(UnknownGame) as caught:
        get_spec("Stones-v1")
    assert "Stones-v0" in caught.value.suggestions
    assert main(["games", "--source", "user"]) == 0
    assert "Stones-v0" in capsys.readouterr().out


def test_check_env_passes_good_envs(in_examples: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-env", "stones:Stones"]) == 0
    out = capsys.readouterr().out
    assert out.count("ok  ") == 7 and "stones:Stones: every check passed" in out
    assert all(f.ok for f in check_env("openspiel:leduc_poker"))


@pytest.mark.parametrize(
    ("cls", "failing", "detail"),
    [
        ("Unseeded", "deterministic under a seed", "the same seed and moves gave another observation"),
        ("SharedClone", "clones are independent", "returned the env itself"),
        ("Lenient", "illegal moves are reported", "was accepted as legal"),
        ("BigRewards", "rewards in range", "outside"),
    ],
)
def test_check_env_names_what_is_wrong(
    cls: str, failing: str, detail: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-env", f"{HELPERS}:{cls}"]) == 1
    out = capsys.readouterr().out
    bad = [line for line in out.splitlines() if line.startswith("FAIL")]
    named = [line for line in bad if failing in line]
    assert len(named) == 1 and detail in named[0], out
    if cls != "SharedClone":  # a shared clone also breaks the random player's probing in every playout
        assert len(bad) == 1 and "1 problem(s)" in out
