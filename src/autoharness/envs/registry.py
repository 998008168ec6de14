"""The game registry: which game ids exist and how to build one (Gymnasium's ``make``, as data).

Sources of game ids:

* ``textarena`` — the paper's 145 TextArena games (``data/paper/games145.tsv``, see its ATTRIBUTION.md),
  read once and cached;
* ``openspiel`` — ``openspiel:NAME`` / ``openspiel:NAME(param=value,...)`` (``envs.openspiel``; needs the
  optional extra);
* ``user`` — your own environment: ``package.module:attr``, or an id a package registers under the
  ``autoharness.envs`` entry-point group (``envs.user``).

``get_spec`` is the one function that resolves a game id (every command and the library go through it:
an unknown id raises ``UnknownGame`` naming close ids), and ``make`` is the one door to an environment, so
every caller gets the same stripping, illegal-move detection and RNG isolation.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import cache

from ..errors import ConfigError, UnknownGame
from ..paper import paper_table
from .base import Env


@dataclass(frozen=True, slots=True)
class GameSpec:
    """One registered game, with the paper's published figures for it."""

    id: str
    players: int
    eval_set: bool
    """In the paper's 32-game evaluation set."""
    paper_learning_steps: int | None
    """LLM calls the paper needed to learn this game's harness (None: not a game of the paper)."""
    source: str = "textarena"
    """Where the game comes from: one of ``SOURCES``."""

    @property
    def family(self) -> str:
        """The base game a variant belongs to (``Chess-v0-long`` → ``Chess-v0``,
        ``openspiel:go(board_size=9)`` → ``openspiel:go``)."""
        head, sep, _ = self.id.split("(", 1)[0].partition("-v0")
        return head + sep


SOURCES = ("textarena", "openspiel", "user")


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


def list_games(source: str = "textarena") -> list[GameSpec]:
    """The listed games of ``source`` (``textarena``: the paper's 145 in its alphabetical order;
    ``openspiel``: every OpenSpiel game playable here with default parameters, by name; ``user``: the ids
    installed packages register under the ``autoharness.envs`` entry-point group; ``all``: every one).
    A ``package.module:attr`` id is never listed: it exists once you name it."""
    if source not in (*SOURCES, "all"):
        raise ConfigError(f"unknown game source {source!r}; choose from {', '.join(SOURCES)} or all")
    games = list(_specs().values()) if source in ("textarena", "all") else []
    if source in ("openspiel", "all"):
        from . import openspiel

        try:
            games.extend(openspiel.listed())
        except ConfigError:  # the optional extra is not installed
            if source == "openspiel":
                raise
    if source in ("user", "all"):
        from . import user

        games.extend(get_spec(name) for name in sorted(user.entry_points()))
    return games


def get_spec(game_id: str) -> GameSpec:
    """The spec of ``game_id``, whatever its source: the one resolver of game ids. An unknown id raises
    ``UnknownGame`` naming the closest ids; an id that names an unplayable game raises ``ConfigError``."""
    from . import openspiel, user

    if game_id.startswith(openspiel.PREFIX):
        return openspiel.spec(game_id)
    specs = _specs()
    spec = specs.get(game_id)
    if spec is not None:
        return spec
    if user.target_of(game_id) is not None:
        return user.spec(game_id)
    by_lower = {gid.lower(): gid for gid in specs}
    by_lower.update({name.lower(): name for name in user.entry_points()})
    close = difflib.get_close_matches(game_id.lower(), list(by_lower), n=3, cutoff=0.6)
    if not close:  # a bare family name ("chess") is far from "chess-v0-blind" by ratio; prefix-match it
        close = [low for low in by_lower if low.startswith(game_id.lower())][:3]
    raise UnknownGame(game_id, [by_lower[low] for low in close])


def make(game_id: str, *, keep_move_lists: bool = False) -> Env:
    """A fresh, not yet reset environment for ``game_id``.

    ``keep_move_lists`` shows TextArena's lists of legal moves (the paper strips them; keep them only for
    ablations and for tests that need the game's own legal moves).
    """
    spec = get_spec(game_id)
    if spec.source == "openspiel":
        from .openspiel import OpenSpielEnv

        return OpenSpielEnv(spec)
    if spec.source == "user":
        from . import user

        return user.make(game_id)
    from .textarena import TextArenaEnv  # imports TextArena (~1 s): only when a game is really built

    return TextArenaEnv(spec, keep_move_lists=keep_move_lists)


def path_name(game_id: str) -> str:
    """``game_id`` as a file or directory name: characters other than letters, digits, ``._-`` become
    ``_`` (``openspiel:go(board_size=9)`` → ``openspiel_go_board_size_9_``)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", game_id)


__all__ = ["SOURCES", "GameSpec", "get_spec", "list_games", "make", "path_name"]
