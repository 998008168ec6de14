"""The HTTP client under the OpenAI SDK, with the limits the SDK lacks.

* **A whole-call deadline.** httpx's timeouts bound each socket operation, so a server that sends one
  byte every few seconds never times out. Every read and write here is given at most the time left
  until the call's deadline, and none starts after it (``httpcore.ReadTimeout`` / ``WriteTimeout``,
  which the SDK reports as a timeout: retried like any other).
* **A response size cap** (``MAX_RESPONSE_BYTES``): a reply is read into memory, so a larger one ends
  the call with ``ResponseTooLarge`` instead of growing the process without bound.
* **No redirect to another host**: a 307/308 would re-send the prompt to a host the user never named,
  and the reply would be recorded as the configured endpoint's (``CrossHostRedirect``).

The limits are per thread (the SDK's sync client does its I/O in the calling thread) and apply only
inside ``call_limits``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

MAX_RESPONSE_BYTES = 32 * 1024 * 1024  # ~8M tokens of text: far above any chat completion we ask for


class ResponseTooLarge(Exception):
    """The server sent more than ``MAX_RESPONSE_BYTES``."""


class CrossHostRedirect(Exception):
    """The server redirected the request to another host."""


class _Limits(threading.local):
    deadline: float | None = None
    received: int = 0
    max_bytes: int = MAX_RESPONSE_BYTES


_limits = _Limits()


@contextmanager
def call_limits(seconds: float, max_bytes: int = MAX_RESPONSE_BYTES) -> Iterator[None]:
    """Within this block, this thread's HTTP I/O ends ``seconds`` from now and reads at most
    ``max_bytes`` (headers included)."""
    saved = (_limits.deadline, _limits.received, _limits.max_bytes)
    _limits.deadline, _limits.received, _limits.max_bytes = time.monotonic() + seconds, 0, max_bytes
    try:
        yield
    finally:
        _limits.deadline, _limits.received, _limits.max_bytes = saved


def _time_left(timeout: float | None, error: type[Exception]) -> float | None:
    if _limits.deadline is None:
        return timeout
    left = _limits.deadline - time.monotonic()
    if left <= 0:
        raise error("the whole-call deadline passed")
    return left if timeout is None else min(timeout, left)


class _LimitedStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = self._inner.read(max_bytes, _time_left(timeout, httpcore.ReadTimeout))
        if _limits.deadline is not None:
            _limits.received += len(data)
            if _limits.received > _limits.max_bytes:
                raise ResponseTooLarge(f"the reply passed {_limits.max_bytes:,} bytes")
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _LimitedStream(
            self._inner.start_tls(ssl_context, server_hostname, _time_left(timeout, httpcore.ConnectTimeout))
        )

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _LimitedBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        left = _time_left(timeout, httpcore.ConnectTimeout)
        return _LimitedStream(self._inner.connect_tcp(host, port, left, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        left = _time_left(timeout, httpcore.ConnectTimeout)
        return _LimitedStream(self._inner.connect_unix_socket(path, left, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _refuse_cross_host(response: httpx.Response) -> None:
    if not response.is_redirect:
        return
    target = response.request.url.join(response.headers.get("location", ""))
    if target.host != response.request.url.host:
        raise CrossHostRedirect(
            f"the server redirected the request to another host ({target.host}); not followed. "
            "If that host is the real endpoint, pass it as --base-url"
        )


def limited_client(timeout: float) -> httpx.Client:
    """An httpx client for the SDK: env proxies honoured as usual, every connection under the limits.

    httpx has no public hook for its network layer, so the pools' backend is wrapped in place (pinned
    httpx/httpcore versions; ``test_a_trickling_server_hits_the_whole_call_deadline`` guards it)."""
    client = httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        follow_redirects=True,
        event_hooks={"response": [_refuse_cross_host]},
    )
    transports = [client._transport, *client._mounts.values()]
    for transport in transports:
        if transport is None:  # a NO_PROXY pattern
            continue
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if backend is None:
            raise RuntimeError("httpx/httpcore changed: cannot put the whole-call deadline in place")
        pool._network_backend = _LimitedBackend(backend)  # type: ignore[union-attr]
    return client


def find_cause(exc: BaseException, kind: type[Exception]) -> Exception | None:
    """The first exception of ``kind`` in ``exc``'s chain of causes (the SDK wraps what httpx raised)."""
    seen: BaseException | None = exc
    for _ in range(20):
        if seen is None:
            return None
        if isinstance(seen, kind):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


__all__ = [
    "MAX_RESPONSE_BYTES",
    "CrossHostRedirect",
    "ResponseTooLarge",
    "call_limits",
    "find_cause",
    "limited_client",
]
