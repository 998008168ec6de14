"""TextArena's Stratego (``Stratego-v0``): three defects of 0.7.4, repaired on the game instance.

Found by playing (2026-11-29; 12 random games on seeds 0-11 before the repairs: 8 ended in a crash with no
result, 3 in a dead position, 1 with a winner):

* **The opponent's army shown.** After each move the game draws the board *for the player to move* (their
  pieces by rank, the opponent's as ``?``) and sends it to *both* players: the player who had just moved saw
  every rank of the opponent's army, at every turn (and Player 1 saw Player 0's at the start). The board
  now goes to the player to move only (``repair``); the others learn nothing from it they should not.
* **Crash after a Miner defuses a Bomb.** The game moves the Miner onto the Bomb's square but leaves that
  square in the Bomb owner's piece list (``player_pieces``); once the square empties, its win check reads
  ``None['rank']``: ``TypeError: 'NoneType' object is not subscriptable`` after a legal move, and the game
  ended with no result. The win check now reads the board (``winner``), which is what the list stands for.
* **Player 0's wipe-out win skipped.** The game ends when a player has nothing but Bombs and the Flag left,
  but tests the winner's number for truth (``if self._check_winner():``): Player 0's win (0) was skipped and
  Player 1 asked to move with no legal move (a dead position). ``finish`` declares it.
"""

from __future__ import annotations

from typing import Any

import textarena as ta

IMMOVABLE = ("Bomb", "Flag")


def winner(game: Any) -> int | None:
    """The player whose opponent has no piece left but Bombs and the Flag (the game's rule), from the board;
    None while both can move a piece."""
    for player in (0, 1):
        pieces = [p for row in game.board for p in row if isinstance(p, dict) and p["player"] == player]
        if all(piece["rank"] in IMMOVABLE for piece in pieces):
            return 1 - player
    return None


def repair(game: Any) -> None:
    """Install the repaired board message and win check (module docstring) on ``game``, before or after its
    ``reset``: both look the state up when called."""
    draw_board = type(game)._observe_current_state

    def observe_current_state() -> None:
        state = game.state
        send = type(state).add_observation.__get__(state)

        def to_player_to_move(
            message: str, observation_type: Any, from_id: int = ta.GAME_ID, to_id: int = -1
        ) -> None:
            to_id = state.current_player_id if to_id == -1 else to_id
            send(message=message, observation_type=observation_type, from_id=from_id, to_id=to_id)

        state.add_observation = to_player_to_move
        try:
            draw_board(game)
        finally:
            del state.add_observation

    def check_winner() -> int | None:
        return winner(game)

    game._observe_current_state = observe_current_state
    game._check_winner = check_winner


def finish(game: Any) -> bool:
    """After an accepted move: declare the wipe-out win of Player 0 the game skipped; whether it did."""
    if game.state.done or winner(game) != 0:
        return False
    game.state.set_winner(player_id=0, reason="Player 0 wins! Player 1 has no more movable pieces.")
    return True


__all__ = ["finish", "repair", "winner"]
