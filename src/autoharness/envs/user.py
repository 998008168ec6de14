"""Your own environment as a game id: ``package.module:attr``, or a name a package registers under the
``autoharness.envs`` entry-point group.

``attr`` (a dotted path inside the module is fine) may be

* a ``textarena.Env`` subclass, or a factory returning a ``textarena.Env``: it runs through our TextArena
  adapter (illegal-move detection, move-list stripping, RNG isolation — the module's ``random`` is routed to
  the env's seeded generator like TextArena's own). Players: a ``num_players`` attribute on ``attr`` (or on
  the env it builds), else ``--players N`` on the command line (``set_players``);
* a class or factory building an object that implements our ``Env`` protocol (``envs.base``), or such an
  object itself (each ``make`` then gets a ``clone()`` of it).

The module is imported with the current directory on ``sys.path`` (as ``uvicorn main:app`` does), so a
game file next to where you run ``autoharness`` works without installing anything. A package registers
ids in its ``pyproject.toml``::

    [project.entry-points."autoharness.envs"]
    "MyGame-v0" = "my_package.games:MyGame"

Every failure to build the env (module not found, no such attribute, not callable, wrong protocol, missing
player count) is a one-line ``ConfigError``.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import inspect
import os
import re
import sys
from typing import Any

from ..errors import ConfigError, UnknownGame
from .base import Env
from .registry import GameSpec

GROUP = "autoharness.envs"
_TARGET = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")
_PLAYERS: dict[str, int] = {}
"""Player counts given on the command line (``--players N``), by game id."""


def looks_like_target(game_id: str) -> bool:
    """Whether ``game_id`` has the ``package.module:attr`` form."""
    return bool(_TARGET.match(game_id))


def set_players(game_id: str, players: int) -> None:
    """The number of players of a user game whose env does not say (``--players N``)."""
    if target_of(game_id) is None:
        raise ConfigError(f"--players applies to package.module:attr games only, not {game_id}")
    if players < 1:
        raise ConfigError(f"--players must be at least 1 (got {players})")
    _PLAYERS[game_id] = players
    _resolve.cache_clear()


@functools.cache
def entry_points() -> dict[str, str]:
    """Game id → ``module:attr`` for every id registered under the ``autoharness.envs`` group."""
    return {ep.name: ep.value for ep in importlib.metadata.entry_points(group=GROUP)}


def target_of(game_id: str) -> str | None:
    """The ``module:attr`` a user game id points to, or None when it is not a user game id."""
    registered = entry_points().get(game_id)
    if registered is not None:
        return registered
    return game_id if looks_like_target(game_id) else None


def _load_object(game_id: str, target: str) -> Any:
    module_name, _, attr = target.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ConfigError(f"{game_id}: cannot import module {module_name!r} ({exc})") from exc
    except Exception as exc:  # the user's module raised while importing
        raise ConfigError(f"{game_id}: importing {module_name} failed: {type(exc).__name__}: {exc}") from exc
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"{game_id}: module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


def _is_textarena_env(value: Any) -> bool:
    ta = sys.modules.get("textarena")  # a TextArena env's module imported it already; don't pay ~1 s
    if ta is None:
        return False
    return isinstance(value, ta.Env) or (inspect.isclass(value) and issubclass(value, ta.Env))


def _is_env(value: Any) -> bool:
    return not inspect.isclass(value) and isinstance(value, Env)


class _Built:
    """How to make one user game: its spec, plus a zero-argument builder of a fresh env."""

    def __init__(self, spec: GameSpec, build: Any) -> None:
        self.spec = spec
        self.build = build


@functools.cache
def _resolve(game_id: str) -> _Built:
    target = target_of(game_id)
    if target is None:
        raise UnknownGame(game_id, [])
    if not _TARGET.match(target):
        raise ConfigError(f"{game_id}: entry point value {target!r} is not of the form package.module:attr")
    obj = _load_object(game_id, target)
    name = target.split(":", 1)[1]
    if _is_env(obj):  # an instance of our protocol: every make gets its own clone
        players = _players(game_id, obj)
        return _Built(_spec(game_id, players), obj.clone)
    if not callable(obj):
        raise ConfigError(
            f"{game_id}: {name} is not callable (a {type(obj).__name__}); give a textarena.Env subclass, a "
            "factory, or an object implementing autoharness.envs.Env"
        )
    if inspect.isclass(obj) and _is_textarena_env(obj):
        return _textarena(game_id, obj, obj)
    try:
        made = obj()
    except Exception as exc:
        raise ConfigError(f"{game_id}: calling {name}() failed: {type(exc).__name__}: {exc}") from exc
    if _is_textarena_env(made):
        return _textarena(game_id, obj, made)
    if _is_env(made):
        players = _players(game_id, made)
        return _Built(_spec(game_id, players), obj)
    methods = ("reset", "step", "clone", "normalized_reward")
    missing = [m for m in methods if not callable(getattr(made, m, None))]
    missing += [a for a in ("id", "num_players", "reward_range") if not hasattr(made, a)]
    raise ConfigError(
        f"{game_id}: {name}() returned a {type(made).__name__}, neither a textarena.Env nor an "
        f"autoharness Env (missing: {', '.join(missing)})"
    )


def _players(game_id: str, *holders: Any) -> int:
    """``num_players`` of the first holder that has an int one, else ``--players``, else an error."""
    for holder in holders:
        value = getattr(holder, "num_players", None)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
    if game_id in _PLAYERS:
        return _PLAYERS[game_id]
    raise ConfigError(f"{game_id}: the env has no num_players attribute; pass --players N")


def _spec(game_id: str, players: int) -> GameSpec:
    return GameSpec(id=game_id, players=players, eval_set=False, paper_learning_steps=None, source="user")


def _textarena(game_id: str, factory: Any, made: Any) -> _Built:
    from .textarena import TextArenaEnv

    players = _players(game_id, factory, made)
    game_spec = _spec(game_id, players)
    module = sys.modules.get(getattr(factory, "__module__", ""), None)
    return _Built(game_spec, lambda: TextArenaEnv(game_spec, factory=factory, module=module))


def spec(game_id: str) -> GameSpec:
    """The registry entry of a user game id (imports its module)."""
    return _resolve(game_id).spec


def make(game_id: str) -> Env:
    """A fresh env of a user game id."""
    return _resolve(game_id).build()


__all__ = ["GROUP", "entry_points", "looks_like_target", "make", "set_players", "spec", "target_of"]
