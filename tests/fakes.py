"""Test doubles shared by every test area (test code only, never part of the product).

``ScriptedLLM(fn)`` is an ``LLMClient`` whose replies come from a plain function of the messages:

    llm = ScriptedLLM(lambda messages: "```python\\ndef propose_action(obs): ...\\n```")
    llm.complete([{"role": "user", "content": "hi"}])
    assert llm.calls == 1

``fn`` may raise an ``LLMError`` (e.g. ``RateLimited``) to play a failing backend. Import it as
``from tests.fakes import ScriptedLLM`` (``tests`` is a package: ``tests/__init__.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from autoharness.llm.base import DEFAULT_PARAMS, Completion, Message, Params, Usage
from autoharness.llm.cost import estimate_prompt_tokens, estimate_tokens


class ScriptedLLM:
    """Calls ``fn(messages)`` once per sample; counts calls and keeps every request (thread-safe)."""

    def __init__(self, fn: Callable[[list[Message]], str], model: str = "scripted") -> None:
        self.fn = fn
        self.model = model
        self.calls = 0
        self.requests: list[tuple[list[Message], Params]] = []
        self._lock = threading.Lock()

    def complete(self, messages: list[Message], params: Params = DEFAULT_PARAMS) -> list[Completion]:
        with self._lock:
            self.calls += 1
            self.requests.append((list(messages), params))
        out = []
        for i in range(params.n):
            text = self.fn(messages)
            usage = Usage(estimate_prompt_tokens(messages) if i == 0 else 0, estimate_tokens(text))
            out.append(Completion(text, usage, model=self.model, provenance=f"scripted:{self.model}"))
        return out
