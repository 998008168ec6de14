"""Environments for the user-env tests: a TextArena factory, and ``examples/stones.py`` broken on purpose in
one way each (what ``autoharness check-env`` must catch)."""

from __future__ import annotations

import importlib
import random
import sys
from pathlib import Path
from typing import Self

from textarena.envs.GuessTheNumber.env import GuessTheNumberEnv

from autoharness.envs.base import StepResult, Turn

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
Stones = importlib.import_module("stones").Stones


def small_guess() -> GuessTheNumberEnv:
    """A factory returning a ``textarena.Env``; its player count is an attribute of the factory."""
    return GuessTheNumberEnv(min_number=1, max_number=10, max_turns=6)


small_guess.num_players = 1  # type: ignore[attr-defined]


class Unseeded(Stones):
    """Draws the pile from the global RNG, not the seed."""

    def reset(self, seed: int) -> Turn:
        super().reset(seed)
        self.pile = random.SystemRandom().randint(15, 25)
        return self._turn(news="")


class SharedClone(Stones):
    """``clone`` hands out the same object."""

    def clone(self) -> Self:
        return self


class Lenient(Stones):
    """Reads anything it cannot parse as 'take 1'."""

    def step(self, action: str) -> StepResult:
        return super().step(action if "take" in action else "[take 1]")


class BigRewards(Stones):
    """Pays a winner 5, outside its own reward_range."""

    def step(self, action: str) -> StepResult:
        result = super().step(action)
        if result.legal and result.done and result.rewards:
            return StepResult(legal=True, done=True, rewards={p: 5.0 * r for p, r in result.rewards.items()})
        return result


def not_an_env() -> dict[str, int]:
    return {"players": 2}


stones_instance = Stones()
