"""Learning a harness: evaluator → critic → refiner, driven by a tree search over code versions.

    from autoharness.learn import LearnConfig, learn
    result = learn("TicTacToe-v0", LearnConfig(mode="verifier"), client, Path("runs/ttt"))

``learn`` and its result types load on first use: the CLI imports this package to build its flags, and
should not pay for the LLM SDK and the sandbox then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import EVAL_SEED_START, LearnConfig

if TYPE_CHECKING:
    from .loop import LLM_CACHE, LearnProgress, LearnResult, learn

_LAZY = {"LLM_CACHE", "LearnProgress", "LearnResult", "learn"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import loop

        return getattr(loop, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["EVAL_SEED_START", "LLM_CACHE", "LearnConfig", "LearnProgress", "LearnResult", "learn"]
