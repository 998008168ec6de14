"""Checking JSON read from result files (summary.json, eval.json, suite.json) before any value is used:
files may be hand-edited or planted, and a wrong type must be a one-line error naming the file and the
field, never a traceback or a wrong figure.

A field spec maps a key to a kind: ``str``, ``int`` (whole, not bool), ``num`` (finite), ``dict``, ``bool``
or ``any``; ``KIND[]`` is a list of them; a trailing ``?`` also allows null (or a missing key).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .errors import ConfigError

_KINDS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "str": ("a string", lambda v: isinstance(v, str)),
    "int": ("a whole number", lambda v: type(v) is int and abs(v) <= 10**15),
    "num": ("a finite number", lambda v: type(v) in (int, float) and math.isfinite(v) and abs(v) <= 1e15),
    "dict": ("an object", lambda v: isinstance(v, dict)),
    "bool": ("a boolean", lambda v: isinstance(v, bool)),
    "any": ("anything", lambda v: True),
}


def _fits(value: Any, kind: str) -> bool:
    if value is None:
        return kind.endswith("?")
    kind = kind.rstrip("?")
    if kind.endswith("[]"):
        check = _KINDS[kind[:-2]][1]
        return isinstance(value, list) and all(check(v) for v in value)
    return _KINDS[kind][1](value)


def _expected(kind: str) -> str:
    base = kind.rstrip("?")
    words = f"a list of {_KINDS[base[:-2]][0].split(' ', 1)[1]}s" if base.endswith("[]") else _KINDS[base][0]
    return words + (" or null" if kind.endswith("?") else "")


def checked(obj: Any, fields: dict[str, str], where: str) -> dict[str, Any]:
    """``obj`` if it is an object whose ``fields`` have the given kinds; else a one-line ``ConfigError``."""
    if not isinstance(obj, dict):
        raise ConfigError(f"{where}: expected a JSON object, found {type(obj).__name__}")
    for key, kind in fields.items():
        value = obj.get(key)
        if not _fits(value, kind):
            found = "missing" if key not in obj else f"{type(value).__name__} {short(value)}"
            raise ConfigError(f"{where}: {key!r} should be {_expected(kind)}, found {found}")
    return obj


def short(value: Any) -> str:
    text = repr(value)
    text = text if len(text) <= 60 else text[:59] + "…"
    return "".join(c if c.isprintable() else "?" for c in text)


__all__ = ["checked", "short"]
