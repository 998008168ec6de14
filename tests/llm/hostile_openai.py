"""A misbehaving OpenAI-compatible server for tests: the real wire protocol (``FakeOpenAIServer``), with
every way a broken or hostile endpoint was seen to hurt us as a named mode.

    with HostileOpenAIServer("negative-usage", text=GOOD) as server: ...
    server.mode = "trickle"  # switch modes between runs

Each mode answers a request with a complete HTTP response; slow modes send a bounded body slowly (a
``Trickle``), so every loop here ends on its own. ``text`` is the reply text modes wrap (a harness,
so a run can go on learning); ``redirect-cross-host`` sends the client to a second server on another
host name (``localhost`` instead of ``127.0.0.1``) that records whatever reaches it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from types import TracebackType

from tests.llm.fake_openai import FakeOpenAIServer, Reply, Trickle, chat_completion

JSON = {"Content-Type": "application/json"}


def _raw(body: object) -> Reply:
    return 200, JSON, body if isinstance(body, bytes) else json.dumps(body).encode()


def _with(text: str, **changes: object) -> Reply:
    """A completion of ``text`` with top-level fields replaced (``choices``, ``usage``, ...)."""
    return _raw({**chat_completion([text]), **changes})


def _with_usage(text: str, usage: object) -> Reply:
    return _with(text, usage=usage)


def _with_message(text: str, message: object) -> Reply:
    body = chat_completion([text])
    body["choices"][0]["message"] = message
    return _raw(body)


def _body(text: str) -> bytes:
    return json.dumps(chat_completion([text])).encode()


HUGE_INTEGER = b'{"choices": [], "usage": {"prompt_tokens": 1' + b"0" * 5000 + b"}}"


def _deep(depth: int) -> bytes:
    return b'{"choices": ' + b"[" * depth + b"]" * depth + b"}"


# Every mode: (text, request body) -> reply. Bad shapes, bad usage, slow or huge bodies, redirects.
MODES: dict[str, Callable[[str, dict], Reply]] = {
    "good": lambda text, body: text,
    "huge-broken-code": lambda text, body: "```python\n" + "def propose_action(obs:\n    x = (\n" * 60_000,
    "huge-body": lambda text, body: _with("x" * (33 * 1024 * 1024)),
    "not-json": lambda text, body: _raw(b'{"choices": ['),
    "not-utf8": lambda text, body: _raw(b'{"choices": "\xff\xfe"}'),
    "no-choices": lambda text, body: _raw({"id": "x", "object": "chat.completion"}),
    "empty-choices": lambda text, body: _with(text, choices=[]),
    "choices-string": lambda text, body: _with(text, choices="lots of choices"),
    "choice-null": lambda text, body: _with(text, choices=[None]),
    "choice-string": lambda text, body: _with(text, choices=["a string"]),
    "message-string": lambda text, body: _with_message(text, "a string"),
    "content-int": lambda text, body: _with_message(text, {"role": "assistant", "content": 42}),
    "content-list-of-ints": lambda text, body: _with_message(text, {"role": "assistant", "content": [1, 2]}),
    "json-array": lambda text, body: _raw([1, 2, 3]),
    "deep-nesting": lambda text, body: _raw(_deep(100_000)),
    "huge-integer": lambda text, body: _raw(
        b'{"choices": [], "usage": {"prompt_tokens": 1' + b"0" * 5000 + b"}}"
    ),
    "negative-usage": lambda text, body: _with_usage(
        text, {"prompt_tokens": -6_000_000, "completion_tokens": -6_000_000, "total_tokens": -12_000_000}
    ),
    "infinite-usage": lambda text, body: _raw(
        json.dumps({**chat_completion([text]), "usage": {"prompt_tokens": 1e999, "completion_tokens": 1}})
        .replace("Infinity", "1e999")
        .encode()
    ),
    "huge-usage": lambda text, body: _with_usage(
        text, {"prompt_tokens": 10**30, "completion_tokens": 10**30}
    ),
    "string-usage": lambda text, body: _with_usage(text, {"prompt_tokens": "10", "completion_tokens": "x"}),
    "usage-not-object": lambda text, body: _with_usage(text, [1, 2]),
    "bool-usage": lambda text, body: _with_usage(text, {"prompt_tokens": True, "completion_tokens": False}),
    "extra-choices": lambda text, body: _raw(
        {
            **chat_completion([text] * 5),
            "usage": {"prompt_tokens": 1_000, "completion_tokens": 5_000, "total_tokens": 6_000},
        }
    ),
    "trickle": lambda text, body: Trickle(200, JSON, json.dumps(chat_completion([text])).encode(), 1, 0.25),
    "stall-headers": lambda text, body: Trickle(
        200, JSON, json.dumps(chat_completion([text])).encode(), 1, 0.25, True
    ),
    "error-500": lambda text, body: (500, JSON, b'{"error": {"message": "boom"}}'),
    "error-body-nested": lambda text, body: (500, JSON, _deep(100_000)),
    "retry-after-forever": lambda text, body: (
        429,
        {**JSON, "Retry-After": "1e308"},
        b'{"error": "slow down"}',
    ),
}


class HostileOpenAIServer(FakeOpenAIServer):
    """A loopback OpenAI-compatible server answering in ``mode`` (changeable between requests)."""

    def __init__(self, mode: str = "good", text: str = "ok") -> None:
        if mode not in MODES and mode != "redirect-cross-host":
            raise ValueError(f"unknown mode {mode!r}")
        self.mode, self.text = mode, text
        self.elsewhere = FakeOpenAIServer(lambda body: "answered by another host")
        super().__init__(self._answer)

    def _answer(self, body: dict) -> Reply:
        if self.mode == "redirect-cross-host":
            port = self.elsewhere._server.server_address[1]
            return 307, {"Location": f"http://localhost:{port}/v1/chat/completions"}, b""
        return MODES[self.mode](self.text, body)

    def __enter__(self) -> HostileOpenAIServer:
        self.elsewhere.__enter__()
        super().__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        super().__exit__(exc_type, exc, tb)
        self.elsewhere.__exit__(exc_type, exc, tb)


ALL_MODES = [*MODES, "redirect-cross-host"]
