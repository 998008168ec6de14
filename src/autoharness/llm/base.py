"""The one interface every model backend implements: chat messages in, text and token usage out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, TypedDict, runtime_checkable


class Message(TypedDict):
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

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


__all__ = ["DEFAULT_PARAMS", "Completion", "LLMClient", "Message", "Params", "Usage"]
