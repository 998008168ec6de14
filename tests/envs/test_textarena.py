"""The adapter's documented semantics on specific games (the all-games sweep is in test_games)."""

from __future__ import annotations

import random
import socket

import pytest

from autoharness.envs import make
from autoharness.errors import EnvError

from .conftest import NetworkUsed


def test_first_illegal_move_ends_the_game_with_textarena_outcome() -> None:
    env = make("TicTacToe-v0")
    env.reset(0)
    result = env.step("[4]")
    assert result.legal and not result.done and result.next.player == 1
    illegal = env.step("[4]")  # the cell is taken: TextArena would allow one retry, we stop here
    assert (illegal.legal, illegal.done) == (False, True)
    assert "4" in illegal.reason
    assert illegal.rewards == {1: -1.0, 0: 1.0}
    with pytest.raises(EnvError, match="after the game ended"):
        env.step("[0]")


def test_one_player_illegal_move_keeps_the_games_own_reward() -> None:
    env = make("TowerOfHanoi-v0")
    env.reset(0)
    result = env.step("[B C]")  # empty source tower
    assert not result.legal and "empty" in result.reason
    assert result.rewards == {0: 0.0}


@pytest.mark.parametrize("game_id", ["Snake-v0", "Surround-v0"])
def test_simultaneous_games_report_an_action_without_direction_as_illegal(game_id: str) -> None:
    env = make(game_id)
    env.reset(0)
    assert env.clone().step("[up]").legal
    result = env.step("I pass")
    assert not result.legal and result.done and "direction" in result.reason
    assert result.rewards == {0: -1.0, 1: 1.0}


def test_minesweeper_mine_is_a_lost_game_not_an_illegal_move() -> None:
    env = make("Minesweeper-v0")
    env.reset(0)
    assert env.step("[0 0]").legal
    grid = env._game.grid  # test-side peek at where the mines are
    row, col = next((r, c) for r, line in enumerate(grid) for c, cell in enumerate(line) if cell == -1)
    result = env.step(f"[{row} {col}]")
    assert result.legal and result.done
    assert 0.0 <= result.rewards[0] < 1.0
    assert "mine" in str(result.info["end"])


def _play(env_id: str, seed: int, actions: list[str], between: object = None) -> list[str]:
    env = make(env_id)
    seen = [env.reset(seed).observation]
    for action in actions:
        if callable(between):
            between()
        result = env.step(action)
        assert result.legal, result.reason
        seen.append(result.next.observation)
    return seen


def test_games_do_not_share_randomness_with_each_other_or_the_caller() -> None:
    moves = ["[Left]", "[Up]", "[Right]", "[Down]"] * 2
    alone = _play("2048-v0", 3, moves)
    noisy = _play("2048-v0", 3, moves, between=lambda: (random.seed(99), random.random()))
    assert noisy == alone  # tile spawns come from the env's own generator

    a, b = make("2048-v0"), make("2048-v0")
    interleaved = [a.reset(3).observation]
    b.reset(4)
    for move in moves:  # two games stepping in turn do not disturb each other
        interleaved.append(a.step(move).next.observation)
        b.step(move)
    assert interleaved == alone


def test_clone_is_independent_and_reports_its_own_illegal_moves() -> None:
    env = make("Chess-v0")
    env.reset(0)
    probe = env.clone()
    assert not probe.step("[e2e5]").legal
    result = env.step("[e2e4]")
    assert result.legal and "e2e4" in result.next.observation
    with pytest.raises(EnvError):
        probe.step("[e2e4]")


def test_an_action_that_crashes_the_game_is_an_illegal_move() -> None:
    env = make("Chess-v0")
    env.reset(0)
    result = env.step("[e1e1]")  # python-chess raises InvalidMoveError inside TextArena
    assert not result.legal and result.done and result.info == {"crash": True}
    assert "InvalidMoveError" in (result.reason or "") and result.rewards == {0: -1.0, 1: 1.0}


def test_normalized_reward_maps_each_family_to_unit_interval() -> None:
    two, one = make("TicTacToe-v0"), make("2048-v0")
    assert [two.normalized_reward({0: 1.0, 1: -1.0}, p) for p in (0, 1)] == [1.0, 0.0]
    assert two.normalized_reward({0: 0.0, 1: 0.0}, 0) == 0.5
    assert one.normalized_reward({0: 0.25}, 0) == 0.25
    assert one.normalized_reward({0: -1.0}, 0) == 0.0  # Bandit/Secretary's invalid-move −1


def test_games_debug_prints_are_silenced(capsys: pytest.CaptureFixture[str]) -> None:
    env = make("NewRecruit-v0")
    env.reset(0)
    assert env.step("[Propose] CCAACCCC").legal
    assert capsys.readouterr().out == ""


def test_network_is_cut_in_env_tests() -> None:
    with pytest.raises(NetworkUsed):
        socket.create_connection(("pypi.org", 443))
