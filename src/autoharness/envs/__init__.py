"""Environments: the small ``Env`` protocol, the game registry, and the TextArena adapter behind it."""

from __future__ import annotations

from .base import Env, StepResult, Turn
from .registry import GameSpec, get_spec, list_games, make

__all__ = ["Env", "GameSpec", "StepResult", "Turn", "get_spec", "list_games", "make"]
