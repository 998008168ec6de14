"""``autoharness games`` and ``autoharness show``: what users and outside checks rely on."""

from __future__ import annotations

import json

import pytest

from autoharness.cli import main
from autoharness.envs import make


def test_games_json_lists_every_game_with_paper_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["games", "--source", "textarena", "--json"]) == 0
    games = json.loads(capsys.readouterr().out)
    assert len(games) == 145
    assert games[0] == {
        "id": "2048-v0",
        "players": 1,
        "eval_set": True,
        "paper_learning_steps": 27,
        "source": "textarena",
    }


def test_games_table_is_readable(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["games"]) == 0
    out = capsys.readouterr().out
    assert "145 TextArena games (32 in the paper's evaluation set) + " in out and "OpenSpiel games" in out
    assert "openspiel:tic_tac_toe" in out and "source" in out
    assert "WildTicTacToe-v0" in out and "paper learning steps" in out


@pytest.mark.parametrize("game_id", ["Othello-v0", "RushHour-v0"])  # RushHour prints while generating
def test_show_prints_exactly_the_first_observation(game_id: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", game_id, "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert out == make(game_id).reset(3).observation + "\n"
    assert "Valid moves" not in out


def test_show_unknown_game_is_one_line_with_suggestions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "Otello-v0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean Othello-v0" in err and "Traceback" not in err
