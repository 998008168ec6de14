"""Text derived from harness output, made safe to print: it must not drive the terminal or forge our lines."""

from __future__ import annotations


def printable(text: str) -> str:
    """``text`` with every non-printable character (escape codes, newlines, carriage returns, bidi
    overrides, ...) written as its Python escape, so one harness-derived value stays one visible line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def printable_block(text: str) -> str:
    """Like ``printable`` but keeps line breaks and tabs: for code shown as it is, minus escape codes."""
    return "\n".join(printable(line).replace("\\t", "\t") for line in text.split("\n"))


__all__ = ["printable", "printable_block"]
