"""Environments: the small ``Env`` protocol, the game registry, and the TextArena adapter behind it."""

from __future__ import annotations

from .actions import (
    LegalActions,
    find_legal_actions,
    is_dead,
    legal_actions,
    random_legal_action,
    same_move,
    successor_key,
)
from .base import Env, StepResult, Turn
from .registry import GameSpec, get_spec, list_games, make

__all__ = [
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
]
