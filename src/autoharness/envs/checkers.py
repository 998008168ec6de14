"""TextArena's Checkers (``Checkers-v0``, ``-long``): its "no legal move" rule, repaired on the game instance.

The game's own rule (its comment in ``_check_gameover``): "If either player has no legal moves, that player
loses." TextArena 0.7.4 gets it wrong twice:

* It declares that win with ``set_winners(player_id=...)``, a keyword ``TwoPlayerState.set_winners`` does
  not take: ``TypeError`` after the move, and the game ended with no result (``repair``).
* It asks only the player who just moved; a player left with no legal move by the opponent's move was then
  asked to move anyway: a dead position (the random legal player finds nothing, a harness is asked for the
  impossible). ``finish`` ends the game there as the rule says: that player loses.

Checkers prints no move list; ``legal_moves`` asks the game's own move check about every candidate.
"""

from __future__ import annotations

import itertools
from typing import Any

SQUARES = tuple(itertools.product(range(8), repeat=2))


def repair(game: Any) -> None:
    """Make ``game.state.set_winners`` take the keyword Checkers calls it with (nothing before ``reset``)."""
    state = getattr(game, "state", None)
    if state is None:
        return
    set_winner = type(state).set_winner.__get__(state)
    set_winners = type(state).set_winners.__get__(state)

    def set_winners_or_winner(
        player_ids: list[int] | None = None, reason: str = "", *, player_id: int | None = None
    ) -> None:
        if player_id is not None:
            set_winner(player_id, reason)
        else:
            set_winners(player_ids, reason)

    state.set_winners = set_winners_or_winner


def legal_moves(game: Any) -> list[str]:
    """Every ``[rowFrom colFrom rowTo colTo]`` the game's own ``_is_valid_move`` (what ``step`` checks)
    accepts for the player to move: 4,096 checks, ~5 ms, where probing the same candidates on copies of the
    game took seconds."""
    player = game.state.current_player_id
    valid = game._is_valid_move
    return [
        f"[{r1} {c1} {r2} {c2}]"
        for (r1, c1), (r2, c2) in itertools.product(SQUARES, SQUARES)
        if valid(player, r1, c1, r2, c2)
    ]


def finish(game: Any) -> bool:
    """After an accepted move: the player to move has no legal move, so loses (the game's rule); whether."""
    state = game.state
    stuck = state.current_player_id
    if state.done or game._has_legal_move(stuck):
        return False
    state.set_winner(1 - stuck, f"Player {stuck} has no moves left.")
    return True


__all__ = ["finish", "legal_moves", "repair"]
