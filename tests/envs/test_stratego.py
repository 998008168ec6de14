"""TextArena's Stratego behind the adapter (``envs.stratego``): each player sees only their own ranks, a
defused Bomb no longer crashes the game later, and Player 0's wipe-out win ends the game."""

from __future__ import annotations

import random
import re

from autoharness.envs import make
from autoharness.envs.textarena import TextArenaEnv


def _set_up(env: TextArenaEnv, pieces: dict[tuple[int, int], tuple[int, str]]) -> None:
    """Replace the army on the board (and the game's piece lists) by ``pieces``: square → (player, rank)."""
    game = env._game
    for row in range(10):
        for col in range(10):
            game.board[row][col] = None
    for player in (0, 1):
        game.player_pieces[player].clear()
    for (row, col), (player, rank) in pieces.items():
        game.board[row][col] = {"rank": rank, "player": player}
        game.player_pieces[player].append((row, col))


def _boards(observation: str) -> list[list[str]]:
    """Every board drawn in ``observation``: its 10 rows of 10 cells."""
    boards = []
    for block in observation.split("Current Board:")[1:]:
        rows = [line for line in block.splitlines() if re.match(r"^[A-J]  ", line)][:10]
        boards.append([[line[3 + 4 * c : 7 + 4 * c].strip() for c in range(10)] for line in rows])
    return boards


def test_each_player_sees_only_the_board_drawn_for_them() -> None:
    env = make("Stratego-v0")
    turn = env.reset(3)
    rng = random.Random(3)
    for _ in range(40):
        # TextArena 0.7.4 sent the board drawn for the player to move to both players: the one who had just
        # moved (and Player 1 at the start) saw the opponent's ranks in a second board
        boards = _boards(turn.observation)
        assert len(boards) == 1
        for row, cells in enumerate(boards[0]):
            for col, cell in enumerate(cells):
                piece = env._game.board[row][col]
                if isinstance(piece, dict):
                    assert (cell == "?") == (piece["player"] != turn.player), (row, col, cell)
        result = env.step(rng.choice(env.legal_moves()))
        assert result.legal and not result.done
        turn = result.next


def test_a_defused_bomb_does_not_crash_the_game_later() -> None:
    env = make("Stratego-v0")
    env.reset(0)
    _set_up(
        env,
        {
            (3, 0): (0, "Miner"),
            (0, 9): (0, "Flag"),
            (4, 0): (1, "Bomb"),
            (9, 0): (1, "Marshal"),
            (9, 9): (1, "Flag"),
        },
    )
    assert env.step("[D0 E0]").legal  # the Miner defuses the Bomb; TextArena keeps E0 in Player 1's list
    assert env.step("[J0 I0]").legal
    result = env.step("[E0 F0]")  # E0 empties: TextArena's win check then read None['rank'] and crashed
    assert result.legal and not result.done and "crash" not in result.info


def test_player_0_wins_when_player_1_has_no_movable_piece_left() -> None:
    env = make("Stratego-v0")
    env.reset(0)
    _set_up(
        env,
        {
            (3, 0): (0, "Marshal"),
            (0, 9): (0, "Flag"),
            (4, 0): (1, "Scout"),
            (8, 9): (1, "Bomb"),
            (9, 9): (1, "Flag"),
        },
    )
    result = env.step("[D0 E0]")  # Player 1 is left with a Bomb and the Flag: TextArena skipped winner 0
    assert result.legal and result.done and result.rewards == {0: 1.0, 1: -1.0}
    assert "no more movable pieces" in str(result.info.get("end"))


def test_capturing_the_flag_wins_with_the_reason_as_text() -> None:
    env = make("Stratego-v0")
    env.reset(0)
    _set_up(env, {(3, 0): (0, "Scout"), (0, 9): (0, "Flag"), (4, 0): (1, "Flag"), (9, 0): (1, "Marshal")})
    result = env.step("[D0 E0]")
    assert result.legal and result.done and result.rewards == {0: 1.0, 1: -1.0}
    assert result.info["end"] == "Player 0 has captured the opponent's flag!"  # TextArena gives a list
