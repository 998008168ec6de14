"""The registry: the paper's 145 games as data, lookups with suggestions, rules text."""

from __future__ import annotations

import pytest

from autoharness import envs
from autoharness.envs import get_spec, list_games, make
from autoharness.errors import UnknownGame, UsageError

from .moves import move_list_lines


def test_registry_holds_the_papers_145_games() -> None:
    games = list_games()
    assert len(games) == len({g.id for g in games}) == 145
    assert sum(g.eval_set for g in games) == 32
    assert {g.players for g in games} == {1, 2}
    chess = get_spec("Chess-v0")
    assert (chess.players, chess.eval_set, chess.family) == (2, True, "Chess-v0")
    assert get_spec("Chess-v0-long").family == "Chess-v0"
    assert all(g.paper_learning_steps >= 1 for g in games)


TYPOS = [("Chess-v1", "Chess-v0"), ("tictactoe-v0", "TicTacToe-v0"), ("Othello", "Othello-v0")]


@pytest.mark.parametrize(("typo", "expected"), TYPOS)
def test_unknown_id_suggests_the_closest_games(typo: str, expected: str) -> None:
    with pytest.raises(UnknownGame) as caught:
        make(typo)
    assert isinstance(caught.value, UsageError)
    assert expected in caught.value.suggestions
    assert "did you mean" in str(caught.value) and "\n" not in str(caught.value)


def test_opening_observation_keeps_the_rules_but_no_move_lists() -> None:
    def opening(game_id: str) -> str:
        return make(game_id).reset(0).observation

    chess = opening("Chess-v0")
    assert "UCI" in chess and "Valid moves" not in chess
    assert move_list_lines(opening("SantoriniBaseFixed-v0")) == []
    assert "[Up]" in opening("2048-v0")  # the static action format stays


def test_public_names() -> None:
    assert set(envs.__all__) == {
        "Env",
        "GameSpec",
        "LegalActions",
        "StepResult",
        "Turn",
        "find_legal_actions",
        "get_spec",
        "is_dead",
        "legal_actions",
        "list_games",
        "make",
        "random_legal_action",
        "same_move",
        "successor_key",
    }
