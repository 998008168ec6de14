"""Any OpenAI-compatible chat-completions endpoint through the official ``openai`` SDK.

The SDK's own retries are off: ``OpenAIClient`` retries 429/408/409/5xx/timeouts/connection errors
itself (``RetryPolicy``: capped backoff with jitter, ``Retry-After`` honoured) and maps every SDK error
onto ``autoharness.errors`` in one place, ``map_error``, re-raised ``from`` the SDK exception with a
one-line message that says what to check.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from ..errors import BadReply, ConfigError, LLMAuthError, LLMConnectionError, LLMError, RateLimited
from .base import DEFAULT_PARAMS, MAX_CALL_TOKENS, Completion, Message, PaidBadReply, Params, Usage
from .cost import estimate_prompt_tokens, estimate_tokens
from .provenance import LIVE_PREFIX
from .providers import (
    Provider,
    key_hint,
    known_provider,
    resolve_api_key,
    resolve_base_url,
    without_credentials,
)
from .retry import RetryPolicy, parse_retry_after

if TYPE_CHECKING:  # the SDK takes seconds to import: loaded only once a client is built
    import openai

log = logging.getLogger("autoharness.llm")

DEFAULT_TIMEOUT = 600.0
"""Seconds one request may take, whole (``--llm-timeout``): generous for a slow model writing a long
harness, short enough that a stalled server is noticed; a timeout is retried like other failures."""


@dataclass(frozen=True, slots=True)
class MappedError:
    """An SDK failure translated: the error to raise, whether trying again may help, and how soon."""

    error: LLMError
    retryable: bool
    retry_after: float | None = None


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _server_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return _one_line(inner["message"])
        if isinstance(inner, str):
            return _one_line(inner)
    return _one_line(exc.response.text or exc.message)


def map_error(exc: Exception, base_url: str, attempts: int, timeout: float) -> MappedError:
    """The one place where SDK exceptions (and an unparsable body, ``ValueError``) become our errors."""
    import openai

    from .http import CrossHostRedirect, find_cause

    tries = f"after {attempts} attempt{'s' if attempts != 1 else ''}"
    redirect = find_cause(exc, CrossHostRedirect)
    if redirect is not None:
        return MappedError(LLMConnectionError(f"{base_url}: {redirect}"), retryable=False)
    if isinstance(exc, openai.APITimeoutError):
        return MappedError(
            LLMConnectionError(
                f"{base_url} did not complete a reply within {timeout:g}s ({tries}); "
                "raise --llm-timeout if the model is just slow"
            ),
            retryable=True,
        )
    if isinstance(exc, openai.APIConnectionError):
        cause = _one_line(str(exc.__cause__ or exc))
        return MappedError(
            LLMConnectionError(
                f"cannot reach {base_url} ({tries}): {cause}; is the server running and "
                "--base-url / OPENAI_BASE_URL right?"
            ),
            retryable=True,
        )
    if isinstance(exc, openai.APIResponseValidationError | ValueError):
        return MappedError(
            BadReply(f"{base_url} sent a reply that is not a chat completion: {_one_line(str(exc))}"), False
        )
    if isinstance(exc, openai.APIStatusError):
        status, message = exc.status_code, _server_message(exc)
        retry_after = parse_retry_after(exc.response.headers)
        if status in (401, 403):
            return MappedError(
                LLMAuthError(
                    f"{base_url} refused the API key (HTTP {status}: {message}); check {key_hint(base_url)}"
                ),
                retryable=False,
            )
        if status == 429:
            body = exc.body if isinstance(exc.body, dict) else {}
            inner = body.get("error", body)
            if isinstance(inner, dict) and inner.get("code") == "insufficient_quota":
                return MappedError(RateLimited(f"{base_url}: quota exhausted (HTTP 429: {message})"), False)
            return MappedError(
                RateLimited(f"{base_url} kept rate-limiting ({tries}, HTTP 429: {message})"),
                True,
                retry_after,
            )
        if status >= 500 or status in (408, 409):
            return MappedError(
                LLMConnectionError(f"{base_url} failed with HTTP {status} ({tries}): {message}"),
                True,
                retry_after,
            )
        hint = "; check the model name (--llm) and --base-url" if status == 404 else ""
        return MappedError(
            LLMError(f"{base_url} rejected the request (HTTP {status}: {message}){hint}"), False
        )
    return MappedError(LLMError(f"{base_url}: {_one_line(str(exc))}"), False)


class OpenAIClient:
    """Chat completions from one model at one OpenAI-compatible endpoint.

    At most ``max_concurrency`` requests are in flight at once, however many threads share the client
    (the slot is held only during the HTTP request, not during backoff). Providers that ignore ``n``
    are asked again until ``n`` replies are in.
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        provider: Provider | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        max_concurrency: int = 4,
    ) -> None:
        if not model:
            raise ConfigError("empty model name")
        if not (math.isfinite(timeout) and timeout > 0):
            raise ConfigError(f"the LLM timeout must be a positive number of seconds, got {timeout}")
        self.model = model
        url = resolve_base_url(base_url, provider)
        # Shown and recorded (provenance, errors) without any user:password@ in it.
        self.base_url = without_credentials(url)
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.provenance = f"{LIVE_PREFIX}{model}@{self.base_url}"
        self._slots = threading.BoundedSemaphore(max(1, max_concurrency))
        hosted = provider or known_provider(url)
        self._multi_sample = hosted.multi_sample if hosted else True
        # OpenAI's own endpoint rejects max_tokens for reasoning models; others may not know the new name.
        self._max_tokens_field = (
            "max_completion_tokens" if urlparse(url).hostname == "api.openai.com" else "max_tokens"
        )
        import openai

        from .http import limited_client

        self._api_error = openai.APIError
        self._sdk = openai.OpenAI(
            base_url=url,
            api_key=resolve_api_key(url, api_key, provider),
            http_client=limited_client(timeout),
            max_retries=0,
        )

    def complete(self, messages: list[Message], params: Params = DEFAULT_PARAMS) -> list[Completion]:
        completions: list[Completion] = []
        spent = Usage()
        try:
            while len(completions) < params.n:
                wanted = params.n - len(completions) if self._multi_sample else 1
                batch = self._request(messages, params, wanted)
                completions.extend(batch)
                spent = sum((c.usage for c in batch), spent)
        except PaidBadReply as exc:  # the replies already in were paid too
            exc.usage, exc.calls = exc.usage + spent, params.n
            raise
        return completions

    def _request(self, messages: list[Message], params: Params, n: int) -> list[Completion]:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": params.temperature,
        }
        if n > 1:
            kwargs["n"] = n
        if params.max_tokens is not None:
            kwargs[self._max_tokens_field] = params.max_tokens
        if params.seed is not None:
            kwargs["seed"] = params.seed
        from .http import MAX_RESPONSE_BYTES, ResponseTooLarge, call_limits, find_cause

        for attempt in range(1, self.retry.max_attempts + 1):
            try:
                with self._slots, call_limits(self.timeout):
                    raw = self._sdk.chat.completions.with_raw_response.create(**kwargs)
                    body = raw.http_response.content
                return self._completions(body, messages, n)
            except (self._api_error, ValueError) as exc:
                if find_cause(exc, ResponseTooLarge):  # answered, so paid, but never read whole
                    raise PaidBadReply(
                        f"{self.base_url} sent a reply over {MAX_RESPONSE_BYTES:,} bytes; not read",
                        usage=Usage(min(estimate_prompt_tokens(messages), MAX_CALL_TOKENS), 0),
                        calls=n,
                        model=self.model,
                        provenance=self.provenance,
                    ) from exc
                mapped = map_error(exc, self.base_url, attempt, self.timeout)
                if not mapped.retryable or attempt == self.retry.max_attempts:
                    raise mapped.error from exc
                delay = self.retry.delay(attempt, mapped.retry_after)
                log.warning(
                    "LLM call to %s failed (%s), attempt %d of %d; retrying in %.1f s",
                    self.base_url,
                    type(mapped.error).__name__,
                    attempt,
                    self.retry.max_attempts,
                    delay,
                )
                time.sleep(delay)
        raise AssertionError("unreachable: the last attempt raises")

    def _completions(self, body: bytes, messages: list[Message], n: int) -> list[Completion]:
        """The first ``n`` choices of a response body; any shape but a chat completion is a
        ``PaidBadReply`` (the server answered, so the call counts). Usage that is missing or not
        plausible is estimated (4 characters a token, marked); choices beyond ``n`` are dropped but
        their tokens still count."""
        try:
            reply = parse_chat_completion(body)
        except ValueError as exc:
            raise PaidBadReply(
                f"{self.base_url} sent a reply that is not a chat completion: {exc}",
                usage=Usage(estimate_prompt_tokens(messages), 0),
                calls=n,
                model=self.model,
                provenance=self.provenance,
            ) from exc
        usage, problem = reply.usage, reply.usage_problem
        if usage is None:
            if problem:
                log.warning("%s reported unusable token usage (%s); estimating it", self.base_url, problem)
            usage = Usage(
                min(estimate_prompt_tokens(messages), MAX_CALL_TOKENS),
                min(sum(estimate_tokens(t) for t in reply.texts), MAX_CALL_TOKENS),
            )
        kept = min(n, len(reply.texts))
        # Split the response's usage over the kept choices so the per-reply figures add up to the bill.
        share, rest = divmod(usage.completion_tokens, kept)
        return [
            Completion(
                text=reply.texts[i],
                usage=Usage(usage.prompt_tokens if i == 0 else 0, share + (rest if i == 0 else 0)),
                model=self.model,
                provenance=self.provenance,
                extra={
                    "finish_reason": reply.finish_reasons[i],
                    "served_by": reply.served_by or self.model,
                    "usage_estimated": reply.usage is None,
                },
            )
            for i in range(kept)
        ]


@dataclass(frozen=True, slots=True)
class ChatReply:
    """What autoharness reads from a chat-completion body; ``usage`` is None when missing or implausible
    (``usage_problem`` says why, empty when it was simply missing)."""

    texts: list[str]
    finish_reasons: list[str | None]
    served_by: str | None
    usage: Usage | None
    usage_problem: str


def parse_chat_completion(body: bytes) -> ChatReply:
    """Read a chat-completion body without trusting its shape; ``ValueError`` (one line) if it is none.

    Only plain JSON types are accepted where the format has them: ``choices`` a non-empty list of
    objects, each ``message`` an object whose ``content`` is a string, null, or a list of text parts.
    """
    try:
        data = json.loads(body)
    except RecursionError:
        raise ValueError("its JSON is nested too deeply") from None
    except ValueError as exc:  # also bad UTF-8 and integers too long to read
        raise ValueError(f"not JSON ({_one_line(str(exc), 120)})") from None
    if not isinstance(data, dict):
        raise ValueError(f"a JSON {type(data).__name__}, not an object")
    choices = data.get("choices")
    if not choices:
        raise ValueError("no choices")
    if not isinstance(choices, list):
        raise ValueError(f"choices is a {type(choices).__name__}, not a list")
    texts: list[str] = []
    finish: list[str | None] = []
    for number, choice in enumerate(choices, 1):
        if not isinstance(choice, dict) or not isinstance(choice.get("message"), dict):
            raise ValueError(f"choice {number} is not an object with a message object")
        texts.append(_content(choice["message"].get("content"), number))
        reason = choice.get("finish_reason")
        finish.append(reason if isinstance(reason, str) else None)
    served = data.get("model")
    usage, problem = _usage(data.get("usage"))
    return ChatReply(texts, finish, served if isinstance(served, str) else None, usage, problem)


def _content(content: object, number: int) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = content if isinstance(content, list) else None
    if parts is not None and all(isinstance(p, dict) and isinstance(p.get("text"), str) for p in parts):
        return "".join(p["text"] for p in content)  # a list of text parts, as some servers send
    raise ValueError(f"choice {number}'s content is a {type(content).__name__}, not text")


def _usage(raw: object) -> tuple[Usage | None, str]:
    if raw is None:
        return None, ""
    if not isinstance(raw, dict):
        return None, f"usage is a {type(raw).__name__}"
    counts = [_tokens(raw.get(name)) for name in ("prompt_tokens", "completion_tokens")]
    if None in counts:
        return None, _one_line(repr({k: raw.get(k) for k in ("prompt_tokens", "completion_tokens")}), 160)
    return Usage(*counts), ""


def _tokens(value: object) -> int | None:
    """A token count if ``value`` is a plausible one (whole, 0..MAX_CALL_TOKENS), else None."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if type(value) is not int or not 0 <= value <= MAX_CALL_TOKENS:
        return None
    return value


__all__ = [
    "DEFAULT_TIMEOUT",
    "ChatReply",
    "MappedError",
    "OpenAIClient",
    "map_error",
    "parse_chat_completion",
]
