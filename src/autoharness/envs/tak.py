"""TextArena's Tak (``Tak-v0``, ``-medium``, ``-hard``): its legal moves built from the board, and its stones.

Why the adapter needs this (found on Tak-v0-hard's failed verification, 2026-11-29):

* **Wins crashed.** A road win raised ``TypeError`` (``repair``): no game ever had a result.

* **Made-up stones.** TextArena 0.7.4 checks only a placed stone's first letter (F, W, C) and last character
  (the player's number): ``[place () {(2,4): [C10]}]`` puts a capstone *labelled* "C10" on the board, and
  from then on only ``[C10]`` moves it (``[C0]`` is refused: a move must spell the stack's pieces exactly).
  The rules name six stones (``F0 W0 C0 / F1 W1 C1``); the adapter rejects a move that leaves any other
  label on the board (``made_up_stone``). Before, our random legal player placed such stones in most games
  (the template ``[C0]`` varied over every number the text shows: C0, C10, C20, C30 all "legal"), and
  Tak-v0-hard's verification "failed" on them: the harness moved a wall labelled "W21" as ``[W1]``.
* **Moves the text cannot reach.** The action format ``[move (2,2) {(2,3): [F0, F0], (2,4): [W0, F0]}]``
  has too many parts for candidates built from the text (``envs.actions``): 45,360 one-stone moves on a 6x6
  board (source, target, stone), of which the probing cap reached only the first five source squares, and
  ~4e12 split moves, none reached. One enumeration took ~15 s (16,000 probes) and was still not exact, so
  verification fit 24 positions in its time budget, and the random player never moved a stack.
  ``legal_moves`` builds them from the board instead and asks the game's own checks
  (``_is_valid_placement``, ``_is_valid_movement``) about each: ~1 ms per position.

Which moves are listed: every placement of the mover's three stones on an empty square, every one-stone move
to a neighbour, and every move of the top ``k`` stones (2 ≤ k ≤ board size, Tak's carry limit) in a straight
line dropping at least one stone per square — the moves of Tak, as far as TextArena accepts them. TextArena
also accepts odd moves these leave out (a split whose squares bend, a drop of no stones, carrying more than
the board size): legal, but not listed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

KINDS = "FWC"
"""Flat stone, wall, capstone: a stone is its kind and its owner's number (``W1``)."""
DIRECTIONS = ((0, 1), (1, 0), (0, -1), (-1, 0))


def made_up_stone(game: Any) -> str | None:
    """The first stone on the board that is none of the six the rules name (``C10``), or None."""
    for row in game.board:
        for stack in row:
            for stone in stack:
                if len(stone) != 2 or stone[0] not in KINDS or stone[1] not in "01":
                    return stone
    return None


def repair(game: Any) -> None:
    """Make ``game.state.set_winner`` take the keyword Tak calls it with (on the instance; nothing before
    ``reset``, which makes the state).

    TextArena 0.7.4's Tak declares a road win as ``set_winner(player_ids=pid)``, a keyword
    ``TwoPlayerState.set_winner(player_id, reason)`` does not take: every road win raised ``TypeError``
    after the winning move, and the game ended with no result (no Tak match was ever won or lost)."""
    state = getattr(game, "state", None)
    if state is None:
        return
    original = type(state).set_winner.__get__(state)

    def set_winner(player_id: int | None = None, reason: str = "", *, player_ids: int | None = None) -> None:
        original(player_ids if player_id is None else player_id, reason)

    state.set_winner = set_winner


def legal_moves(game: Any) -> list[str]:
    """The listed moves (module docstring) of the player to move that the game's own checks accept."""
    player = game.state.current_player_id
    moves = []
    for action, source, allocation in _candidates(game.board, player):
        if source is None:
            accepted = game._is_valid_placement(allocation)
        else:
            accepted = game._is_valid_movement(source, allocation)
        if accepted:
            moves.append(action)
    return moves


def _candidates(
    board: list[list[list[str]]], player: int
) -> Iterator[tuple[str, tuple[int, int] | None, dict[tuple[int, int], list[str]]]]:
    """(action, source, allocation as TextArena parses it) for every move listed, unchecked."""
    size = len(board)
    owner = str(player)
    for r in range(size):
        for c in range(size):
            if not board[r][c]:
                for kind in KINDS:
                    stone = f"{kind}{player}"
                    yield f"[place () {{({r},{c}): [{stone}]}}]", None, {(r, c): [stone]}
    for r in range(size):
        for c in range(size):
            stack = board[r][c]
            if not stack or stack[-1][-1] != owner:
                continue
            for dr, dc in DIRECTIONS:
                line = []
                row, col = r + dr, c + dc
                while 0 <= row < size and 0 <= col < size:
                    line.append((row, col))
                    row, col = row + dr, col + dc
                if not line:
                    continue
                for carried in range(1, min(len(stack), size) + 1):
                    stones = stack[-carried:]
                    for drops in _compositions(carried, len(line)):
                        allocation: dict[tuple[int, int], list[str]] = {}
                        at = 0
                        for square, count in zip(line, drops, strict=False):
                            allocation[square] = stones[at : at + count]
                            at += count
                        yield _spell((r, c), allocation), (r, c), allocation


def _compositions(total: int, most: int) -> Iterator[tuple[int, ...]]:
    """The ways to write ``total`` as an ordered sum of at most ``most`` positive parts."""
    if total == 0:
        yield ()
        return
    if most == 0:
        return
    for first in range(1, total + 1):
        for rest in _compositions(total - first, most - 1):
            yield (first, *rest)


def _spell(source: tuple[int, int], allocation: dict[tuple[int, int], list[str]]) -> str:
    drops = ", ".join(f"({r},{c}): [{', '.join(stones)}]" for (r, c), stones in allocation.items())
    return f"[move ({source[0]},{source[1]}) {{{drops}}}]"


__all__ = ["legal_moves", "made_up_stone", "repair"]
