"""A small two-player game written for autoharness in one file: the tutorial in docs/environments.md.

Stones: a pile of 15-25 stones (drawn from the seed). Players take turns removing 1, 2 or 3 stones, never
more than are left, and 3 only while the pile is odd. Whoever takes the last stone wins. A move is written
``[take N]``. (Taking 1 is always possible: the game has no position without a legal move.)

It implements autoharness's ``Env`` protocol directly (``autoharness.envs.base``); run it as game id
``stones:Stones`` from this directory (``examples:`` is on ``sys.path`` then), e.g.
``autoharness check-env stones:Stones``.
"""

from __future__ import annotations

import random
import re
from typing import Self

from autoharness.envs.base import StepResult, Turn

RULES = (
    "You are playing Stones, 2 players. There is one pile of stones. On your turn remove 1, 2 or 3 stones, "
    "never more than are left, and 3 only while the number of stones left is odd. Whoever takes the last "
    "stone wins. Answer with your move in square brackets: [take 1], [take 2] or [take 3]."
)
_MOVE = re.compile(r"\[\s*take\s+(-?\d+)\s*\]", re.IGNORECASE)


class Stones:
    """The game; each ``reset`` draws the pile size from the seed."""

    num_players = 2
    reward_range = (-1.0, 1.0)

    def __init__(self) -> None:
        self.id = "stones:Stones"
        self.pile = 0
        self.player = 0
        self.done = True

    def reset(self, seed: int) -> Turn:
        self.pile = random.Random(seed).randint(15, 25)
        self.player, self.done = 0, False
        return self._turn(news="")

    def step(self, action: str) -> StepResult:
        if self.done:
            raise RuntimeError("step() after the game ended")
        match = _MOVE.search(action)
        if match is None:
            return self._illegal("write your move as [take N]")
        taken = int(match.group(1))
        if taken not in (1, 2, 3):
            return self._illegal(f"you may take 1, 2 or 3 stones, not {taken}")
        if taken > self.pile:
            return self._illegal(f"only {self.pile} stones are left")
        if taken == 3 and self.pile % 2 == 0:
            return self._illegal(f"3 stones may be taken only from an odd pile; {self.pile} are left")
        self.pile -= taken
        mover = self.player
        if self.pile == 0:
            self.done = True
            return StepResult(legal=True, done=True, rewards={mover: 1.0, 1 - mover: -1.0})
        self.player = 1 - mover
        return StepResult(legal=True, done=False, next=self._turn(news=f"Player {mover} took {taken}. "))

    def clone(self) -> Self:
        copy = type(self)()
        copy.__dict__.update(self.__dict__)
        return copy

    def normalized_reward(self, rewards: dict[int, float], player: int) -> float:
        return (rewards[player] + 1.0) / 2.0

    def _illegal(self, reason: str) -> StepResult:
        self.done = True
        return StepResult(
            legal=False, done=True, reason=reason, rewards={self.player: -1.0, 1 - self.player: 1.0}
        )

    def _turn(self, news: str) -> Turn:
        return Turn(self.player, f"{RULES}\n{news}{self.pile} stones are left. You are player {self.player}.")
