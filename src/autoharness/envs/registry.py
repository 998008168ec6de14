"""The game registry: which game ids exist and how to build one (Gymnasium's ``make``, as data).

The list is the paper's 145 TextArena games (``data/paper/games145.tsv``, see its ATTRIBUTION.md), read once
and cached. ``make`` is the one door to an environment, so every caller gets the same stripping, illegal-move
detection and RNG isolation.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import cache

from ..errors import UnknownGame
from ..paper import paper_table
from .base import Env


@dataclass(frozen=True, slots=True)
class GameSpec:
    """One registered game, with the paper's published figures for it."""

    id: str
    players: int
    eval_set: bool
    """In the paper's 32-game evaluation set."""
    paper_learning_steps: int
    """LLM calls the paper needed to learn this game's harness."""

    @property
    def family(self) -> str:
        """The base game a variant belongs to (``Chess-v0-long`` → ``Chess-v0``)."""
        head, sep, _ = self.id.partition("-v0")
        return head + sep


@cache
def _specs() -> dict[str, GameSpec]:
    specs = {}
    for row in paper_table("games145").values():
        spec = GameSpec(
            id=row["game"],
            players=int(row["players"]),
            eval_set=row["eval_set"] == "yes",
            paper_learning_steps=int(row["learning_steps"]),
        )
        specs[spec.id] = spec
    return specs


def list_games() -> list[GameSpec]:
    """Every registered game, in the paper's (alphabetical) order."""
    return list(_specs().values())


def get_spec(game_id: str) -> GameSpec:
    """The spec of ``game_id``; an unknown id raises ``UnknownGame`` naming the closest ids."""
    specs = _specs()
    spec = specs.get(game_id)
    if spec is not None:
        return spec
    by_lower = {gid.lower(): gid for gid in specs}
    close = difflib.get_close_matches(game_id.lower(), list(by_lower), n=3, cutoff=0.6)
    if not close:  # a bare family name ("chess") is far from "chess-v0-blind" by ratio; prefix-match it
        close = [low for low in by_lower if low.startswith(game_id.lower())][:3]
    raise UnknownGame(game_id, [by_lower[low] for low in close])


def make(game_id: str, *, keep_move_lists: bool = False) -> Env:
    """A fresh, not yet reset environment for ``game_id``.

    ``keep_move_lists`` shows TextArena's lists of legal moves (the paper strips them; keep them only for
    ablations and for tests that need the game's own legal moves).
    """
    from .textarena import TextArenaEnv  # imports TextArena (~1 s): only when a game is really built

    return TextArenaEnv(get_spec(game_id), keep_move_lists=keep_move_lists)


__all__ = ["GameSpec", "get_spec", "list_games", "make"]
