"""Environments: the small ``Env`` protocol, the game registry, and the TextArena adapter behind it."""

from __future__ import annotations

from functools import cache

from .base import Env, StepResult, Turn
from .registry import GameSpec, get_spec, list_games, make


@cache
def rules_text(game_id: str) -> str:
    """Player 0's opening prompt at seed 0, move lists stripped: the game's rules for a refiner prompt."""
    from .textarena import TextArenaEnv

    env = TextArenaEnv(get_spec(game_id))
    env.reset(0)
    return env.rules(0)


__all__ = ["Env", "GameSpec", "StepResult", "Turn", "get_spec", "list_games", "make", "rules_text"]
