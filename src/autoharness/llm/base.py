"""The one interface every model backend implements: chat messages in, text and token usage out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, TypedDict, runtime_checkable

from ..errors import BadReply


class Message(TypedDict):
    role: str  # "system" | "user" | "assistant"
    content: str


MAX_CALL_TOKENS = 1_000_000_000
"""More tokens than any one call can take or bill: a larger (or negative) count is a server's bug."""


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens of one call. Always whole, non-negative and at most ``MAX_CALL_TOKENS`` each (``ValueError``
    otherwise), so no figure a server or a file reports can lower a total or make it infinite."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __post_init__(self) -> None:
        for value in (self.prompt_tokens, self.completion_tokens):
            if type(value) is not int or not 0 <= value <= MAX_CALL_TOKENS:
                raise ValueError(f"token counts must be whole numbers 0..{MAX_CALL_TOKENS:,}, got {value!r}")

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            min(self.prompt_tokens + other.prompt_tokens, MAX_CALL_TOKENS),
            min(self.completion_tokens + other.completion_tokens, MAX_CALL_TOKENS),
        )

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class Completion:
    """One sampled reply. ``provenance`` says truthfully where the text came from
    (e.g. "openai-compatible:gpt-4o-mini@https://api.openai.com/v1", "manual: answered by hand",
    "replay:<file> (originally: ...)"); reports show it."""

    text: str
    usage: Usage
    model: str
    provenance: str
    cached: bool = False
    cost_usd: float = 0.0
    extra: dict[str, object] = field(default_factory=dict)


class PaidBadReply(BadReply):
    """The server answered (so the call was billed) but the answer is unusable. It carries what the call
    used, so budgets and ledgers count it like any reply; the metering layer fills in ``cost_usd``."""

    def __init__(self, message: str, *, usage: Usage, calls: int, model: str, provenance: str) -> None:
        super().__init__(message)
        self.usage = usage
        self.calls = calls
        self.model = model
        self.provenance = provenance
        self.cost_usd = 0.0


@dataclass(frozen=True, slots=True)
class Params:
    """Per-call sampling parameters; part of the cache key.

    The ``n`` replies are samples ``sample_offset .. sample_offset + n - 1`` of this request: an identical
    request is answered from the cache, so a caller that wants *fresh* samples of a prompt it already
    asked (e.g. refining the same node twice) raises ``sample_offset``. It is never sent to the provider.
    """

    temperature: float = 1.0
    max_tokens: int | None = None
    n: int = 1
    seed: int | None = None
    sample_offset: int = 0


DEFAULT_PARAMS = Params()  # a shared default argument: Params is frozen, so sharing it is safe


@runtime_checkable
class LLMClient(Protocol):
    """A model backend. ``complete`` returns ``params.n`` completions or raises an ``LLMError``."""

    model: str

    def complete(self, messages: list[Message], params: Params = DEFAULT_PARAMS) -> list[Completion]: ...


__all__ = [
    "DEFAULT_PARAMS",
    "MAX_CALL_TOKENS",
    "Completion",
    "LLMClient",
    "Message",
    "PaidBadReply",
    "Params",
    "Usage",
]
