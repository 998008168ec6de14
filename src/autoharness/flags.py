"""Types for command-line flags: a value is checked when it is parsed, so a bad one is one line and exit 2
before any work starts (argparse reports ``argparse.ArgumentTypeError``).

    p.add_argument("--matches", type=positive_int)
    p.add_argument("--timeout", type=positive_float)

Every float type rejects NaN and infinities (``float("nan")`` parses, and compares false with every bound).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def number[N: (int, float)](
    kind: type[N], minimum: float | None = None, *, strict: bool = False
) -> Callable[[str], N]:
    """A flag type parsing ``kind`` (finite), at least ``minimum`` (above it when ``strict``)."""

    def parse(text: str) -> N:
        try:
            value = kind(text)
        except ValueError:
            what = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        if minimum is not None and (value <= minimum if strict else value < minimum):
            bound = f"> {minimum:g}" if strict else f"≥ {minimum:g}"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {text!r}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in some messages
    return parse


finite_int = number(int)
finite_float = number(float)
positive_int = number(int, 1)
nonnegative_int = number(int, 0)
positive_float = number(float, 0, strict=True)
nonnegative_float = number(float, 0)


__all__ = [
    "finite_float",
    "finite_int",
    "nonnegative_float",
    "nonnegative_int",
    "number",
    "positive_float",
    "positive_int",
]
