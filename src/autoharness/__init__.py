"""autoharness: an LLM writes and repairs its own code harness until no illegal move gets through.

The public surface, one import away (modules load on first use, so ``import autoharness`` stays cheap)::

    import autoharness as ah
    from autoharness.evaluate import evaluate
    from autoharness.learn import learn

    env = ah.make("TicTacToe-v0")                       # the Env protocol over TextArena
    client = ah.make_client("gpt-4o-mini")              # any OpenAI-compatible endpoint, manual, replay
    result = learn("TicTacToe-v0", ah.LearnConfig(mode="verifier"), client, "runs/ttt")
    results = evaluate("TicTacToe-v0", [ah.AgentSpec.parse("policy")],
                       harness_source=open("runs/ttt/harness.py").read())
    ah.write_report("runs/ttt", "runs/ttt/report.html")

``learn`` and ``evaluate`` are modules of this package as well as functions in them, so the functions are
imported from their modules rather than re-exported here (a re-export would be shadowed by the module).

Everything we raise on purpose is an ``AutoharnessError`` (tree in ``autoharness.errors``).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .errors import (
    AutoharnessError,
    BadReply,
    BudgetExceeded,
    ConfigError,
    EnvError,
    LLMAuthError,
    LLMConnectionError,
    LLMError,
    RateLimited,
    ReplayMiss,
    RunStoreError,
    SandboxError,
    UnknownGame,
    UsageError,
)

if TYPE_CHECKING:
    from .envs import Env, GameSpec, StepResult, Turn, get_spec, list_games, make
    from .evaluate import AgentSpec, EvalResult
    from .learn import LearnConfig, LearnResult
    from .library import Library
    from .llm import Budget, LLMClient, Params, make_client
    from .report import write_report
    from .sandbox import HarnessFailure, WorkerPool, check_source
    from .suite import SuiteConfig, run_suite

_LAZY = {
    "envs": ("Env", "GameSpec", "StepResult", "Turn", "get_spec", "list_games", "make"),
    "evaluate": ("AgentSpec", "EvalResult"),
    "learn": ("LearnConfig", "LearnResult"),
    "library": ("Library",),
    "llm": ("Budget", "LLMClient", "Params", "make_client"),
    "report": ("write_report",),
    "sandbox": ("HarnessFailure", "WorkerPool", "check_source"),
    "suite": ("SuiteConfig", "run_suite"),
}
_HOME = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'autoharness' has no attribute {name!r}")
    return getattr(import_module(f".{module}", __name__), name)


__version__ = "0.1.0"

__all__ = [
    "AgentSpec",
    "AutoharnessError",
    "BadReply",
    "Budget",
    "BudgetExceeded",
    "ConfigError",
    "Env",
    "EnvError",
    "EvalResult",
    "GameSpec",
    "HarnessFailure",
    "LLMAuthError",
    "LLMClient",
    "LLMConnectionError",
    "LLMError",
    "LearnConfig",
    "LearnResult",
    "Library",
    "Params",
    "RateLimited",
    "ReplayMiss",
    "RunStoreError",
    "SandboxError",
    "StepResult",
    "SuiteConfig",
    "Turn",
    "UnknownGame",
    "UsageError",
    "WorkerPool",
    "__version__",
    "check_source",
    "get_spec",
    "list_games",
    "make",
    "make_client",
    "run_suite",
    "write_report",
]
