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
    """Per-call sampling parameters; part of the cache key."""

    temperature: float = 1.0
    max_tokens: int | None = None
    n: int = 1
    seed: int | None = None


@runtime_checkable
class LLMClient(Protocol):
    """A model backend. ``complete`` returns ``params.n`` completions or raises an ``LLMError``."""

    model: str

    def complete(self, messages: list[Message], params: Params = Params()) -> list[Completion]: ...


__all__ = ["Completion", "LLMClient", "Message", "Params", "Usage"]
