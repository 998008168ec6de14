"""Every exception autoharness raises, in one tree.

    AutoharnessError                 base of everything we raise on purpose
    ├── UsageError                   bad input from a user (CLI exits 2, one line, no traceback)
    │   ├── UnknownGame              game id not registered ("did you mean ...?")
    │   └── ConfigError              bad flag / config value / missing file
    ├── EnvError                     an environment misbehaved outside the protocol
    ├── SandboxError                 the sandbox itself cannot run (not the harness's fault)
    ├── LLMError                     anything between us and a model
    │   ├── LLMConnectionError       endpoint unreachable / timed out after retries
    │   ├── LLMAuthError             wrong or missing key
    │   ├── RateLimited              429 after all retries
    │   ├── BadReply                 reply unusable (malformed JSON, no code, truncated)
    │   ├── ReplayMiss               a replayed run asked something the transcript lacks
    │   └── BudgetExceeded           run budget (calls, tokens, money) reached
    └── RunStoreError                run directory / SQLite store unusable (e.g. resume of a missing run)

``Terminated`` (SIGTERM, e.g. ``kill PID``) is a ``KeyboardInterrupt``, not an ``AutoharnessError``: the CLI
turns the signal into it so that a command stops exactly as it does on Ctrl-C.

Harness failures (a generated function crashed, hung, returned garbage) are *not* exceptions: they are
data (``autoharness.sandbox.HarnessFailure``) that the critic turns into feedback.
"""

from __future__ import annotations


class Terminated(KeyboardInterrupt):
    """SIGTERM (or another terminating signal) delivered as an interruption: stop cleanly, like Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class AutoharnessError(Exception):
    """Base class for every error autoharness raises on purpose."""


class UsageError(AutoharnessError):
    """Bad input from the user; the CLI prints it on one line and exits with status 2."""


class UnknownGame(UsageError):
    """A game id that is not registered."""

    def __init__(self, game_id: str, suggestions: list[str]) -> None:
        self.game_id = game_id
        self.suggestions = suggestions
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"unknown game id {game_id!r}{hint}")


class ConfigError(UsageError):
    """A flag, config value or file that cannot be used."""


class EnvError(AutoharnessError):
    """An environment broke its protocol (not an illegal move: that is a normal outcome)."""


class SandboxError(AutoharnessError):
    """The sandbox cannot start or keep a worker (not a failure of the harness code itself)."""


class RunStoreError(AutoharnessError):
    """A run directory or its SQLite store cannot be used."""


class LLMError(AutoharnessError):
    """Anything that went wrong between us and a model."""


class LLMConnectionError(LLMError):
    """The endpoint could not be reached (after retries)."""


class LLMAuthError(LLMError):
    """The endpoint refused our credentials."""


class RateLimited(LLMError):
    """The endpoint kept answering 429 after every retry."""


class BadReply(LLMError):
    """A reply that cannot be used: malformed, truncated, or without the code we asked for."""


class ReplayMiss(LLMError):
    """A replayed run made a request that is not in its transcript."""


class BudgetExceeded(LLMError):
    """The run's budget of calls, tokens or money is spent."""


__all__ = [
    "AutoharnessError",
    "BadReply",
    "BudgetExceeded",
    "ConfigError",
    "EnvError",
    "LLMAuthError",
    "LLMConnectionError",
    "LLMError",
    "RateLimited",
    "ReplayMiss",
    "RunStoreError",
    "SandboxError",
    "UnknownGame",
    "UsageError",
]
