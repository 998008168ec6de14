"""A real HTTP server on 127.0.0.1 that speaks the OpenAI chat-completions wire format, for tests.

    with FakeOpenAIServer(lambda body: "hello") as server:
        client = OpenAIClient("m", base_url=server.base_url, api_key="k")

The handler gets the parsed JSON request body and returns either the reply text (a ``str``, or a
``list[str]`` for several choices) wrapped into a proper completion, or a raw ``(status, headers, body)``
to send as is (errors, malformed JSON). It may sleep to play a slow server. Every request is recorded
(``requests``: bodies, ``request_headers``: headers) before the handler runs.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass(frozen=True)
class Trickle:
    """A reply sent ``chunk`` bytes at a time with ``interval`` seconds between writes (a slow or
    stalling server); the loop ends with the body, so it is bounded."""

    status: int
    headers: dict[str, str]
    body: bytes
    chunk: int = 1
    interval: float = 1.0
    before_headers: bool = False  # stall before the status line too, not only in the body


Reply = str | list[str] | tuple[int, dict[str, str], bytes] | Trickle
Handler = Callable[[dict], Reply]


def chat_completion(texts: list[str], model: str = "fake-model", usage: bool = True) -> dict:
    """A chat-completion body as OpenAI sends it (token counts: words, enough to check accounting)."""
    body: dict = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [
            {"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": "stop"}
            for i, t in enumerate(texts)
        ],
    }
    if usage:
        completion = sum(len(t.split()) for t in texts)
        body["usage"] = {
            "prompt_tokens": 10,
            "completion_tokens": completion,
            "total_tokens": 10 + completion,
        }
    return body


def error_reply(status: int, message: str, headers: dict[str, str] | None = None, code: str = "") -> Reply:
    body = {"error": {"message": message, "type": "error", "code": code or None}}
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(body).encode()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """A client that gave up mid-reply (a deadline, a size cap) is expected here, not a server bug."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class FakeOpenAIServer:
    """Context manager running the server in a daemon thread; ``base_url`` ends in ``/v1``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[dict] = []
        self.request_headers: list[dict[str, str]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), self._make_handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def _respond(self, body: dict) -> tuple[int, dict[str, str], bytes] | Trickle:
        reply = self.handler(body)
        if isinstance(reply, tuple | Trickle):
            return reply
        texts = [reply] * int(body.get("n", 1)) if isinstance(reply, str) else reply
        payload = chat_completion(texts, model=str(body.get("model", "fake-model")))
        return 200, {"Content-Type": "application/json"}, json.dumps(payload).encode()

    def _make_handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = json.loads(raw or b"{}")
                with fake._lock:
                    fake.requests.append(body)
                    fake.request_headers.append(dict(self.headers.items()))
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                try:
                    reply = fake._respond(body)
                finally:
                    with fake._lock:
                        fake.in_flight -= 1
                if isinstance(reply, Trickle):
                    self._trickle(reply)
                    return
                status, headers, payload = reply
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test): nothing to answer

            def _trickle(self, reply: Trickle) -> None:
                head = [f"HTTP/1.1 {reply.status} X"]
                head += [f"{k}: {v}" for k, v in {**reply.headers, "Content-Length": len(reply.body)}.items()]
                raw_head = ("\r\n".join(head) + "\r\n\r\n").encode()
                slow = raw_head + reply.body if reply.before_headers else reply.body
                try:
                    if not reply.before_headers:
                        self.wfile.write(raw_head)
                    for start in range(0, len(slow), reply.chunk):
                        self.wfile.write(slow[start : start + reply.chunk])
                        self.wfile.flush()
                        time.sleep(reply.interval)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up: that is what the tests want

            def log_message(self, format: str, *args: object) -> None:
                """Keep test output clean."""

        return _Handler

    def __enter__(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
