"""Who really answered: the ``provenance`` label every reply carries, read back for tables and summaries.

A model *name* can hide who answered (``manual`` is whoever typed the reply; a replay repeats someone's old
replies), so wherever a model is shown, the answerers are shown with it (``model_label``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_REPLAYED = re.compile(r"^replay:.*? \(originally: (?P<original>.*)\)$", re.DOTALL)
LIVE_PREFIX = "openai-compatible:"
"""Provenance of a reply from an OpenAI-compatible endpoint: the named model itself answered."""


def replayed(path: object, original: str) -> str:
    """The provenance of a reply replayed from the transcript at ``path``."""
    return f"replay:{path} (originally: {original})"


def original(provenance: str) -> str:
    """Who first produced a reply: a replay's (or a replay of a replay's) original answerer."""
    while (match := _REPLAYED.match(provenance)) is not None:
        provenance = match["original"]
    return provenance


def answered_by(provenances: Iterable[str]) -> list[str]:
    """The distinct original answerers of some replies, sorted."""
    return sorted({original(p) for p in provenances})


def model_label(model: str, answerers: Iterable[str]) -> str:
    """``model``, followed by every original answerer unless all replies came from a live endpoint (whose
    provenance only repeats the model's name). ``answerers`` may be raw provenances or ``answered_by``'s."""
    who = answered_by(answerers)
    if all(a.startswith(LIVE_PREFIX) for a in who):
        return model
    return f"{model} (answered by: {'; '.join(who)})"


__all__ = ["LIVE_PREFIX", "answered_by", "model_label", "original", "replayed"]
