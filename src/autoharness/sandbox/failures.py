"""What can go wrong when untrusted harness code runs: typed, as data for the critic — never an exception."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FailureKind(StrEnum):
    SYNTAX_ERROR = "syntax_error"  # the source does not parse (line set)
    MISSING_FUNCTION = "missing_function"  # a function the mode needs is absent or has the wrong arity
    EXCEPTION = "exception"  # the function raised (traceback trimmed to harness lines)
    TIMEOUT = "timeout"  # per-call wall-clock limit hit; the worker was killed and replaced
    BAD_RETURN = "bad_return"  # wrong return type (e.g. propose_action returned None)
    OVERSIZED = "oversized"  # return value or captured output over the size limit
    # the harness process died (memory/CPU/process limit, os._exit, signal, ...), or the sandbox could not
    # confine it (the message says so). The sandbox's own failures to start one are not failures of the
    # harness: they raise ``SandboxError`` (see ``autoharness.sandbox.pool``)
    KILLED = "killed"


@dataclass(frozen=True, slots=True)
class HarnessFailure:
    """One failed call into harness code. ``line`` is a line number in the harness source when known."""

    kind: FailureKind
    message: str
    function: str | None = None
    line: int | None = None
    traceback: str | None = None

    def describe(self) -> str:
        """One line, for logs and the CLI."""
        where = f" in {self.function}" if self.function else ""
        at = f" (line {self.line})" if self.line else ""
        return f"{self.kind}{where}{at}: {self.message}"


__all__ = ["FailureKind", "HarnessFailure"]
