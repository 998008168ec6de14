"""Any OpenAI-compatible chat-completions endpoint through the official ``openai`` SDK.

The SDK's own retries are off: ``OpenAIClient`` retries 429/408/409/5xx/timeouts/connection errors
itself (``RetryPolicy``: capped backoff with jitter, ``Retry-After`` honoured) and maps every SDK error
onto ``autoharness.errors`` in one place, ``map_error``, re-raised ``from`` the SDK exception with a
one-line message that says what to check.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from ..errors import BadReply, ConfigError, LLMAuthError, LLMConnectionError, LLMError, RateLimited
from .base import DEFAULT_PARAMS, Completion, Message, Params, Usage
from .cost import estimate_prompt_tokens, estimate_tokens
from .provenance import LIVE_PREFIX
from .providers import Provider, key_hint, known_provider, resolve_api_key, resolve_base_url
from .retry import RetryPolicy, parse_retry_after

if TYPE_CHECKING:  # the SDK takes seconds to import: loaded only once a client is built
    import openai

log = logging.getLogger("autoharness.llm")


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

    tries = f"after {attempts} attempt{'s' if attempts != 1 else ''}"
    if isinstance(exc, openai.APITimeoutError):
        return MappedError(
            LLMConnectionError(f"{base_url} sent no reply within {timeout:g}s ({tries}); raise the timeout"),
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
        timeout: float = 300.0,
        retry: RetryPolicy | None = None,
        max_concurrency: int = 4,
    ) -> None:
        if not model:
            raise ConfigError("empty model name")
        self.model = model
        self.base_url = resolve_base_url(base_url, provider)
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.provenance = f"{LIVE_PREFIX}{model}@{self.base_url}"
        self._slots = threading.BoundedSemaphore(max(1, max_concurrency))
        hosted = provider or known_provider(self.base_url)
        self._multi_sample = hosted.multi_sample if hosted else True
        # OpenAI's own endpoint rejects max_tokens for reasoning models; others may not know the new name.
        self._max_tokens_field = (
            "max_completion_tokens" if urlparse(self.base_url).hostname == "api.openai.com" else "max_tokens"
        )
        import httpx
        import openai

        self._api_error = openai.APIError
        self._sdk = openai.OpenAI(
            base_url=self.base_url,
            api_key=resolve_api_key(self.base_url, api_key, provider),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            max_retries=0,
        )

    def complete(self, messages: list[Message], params: Params = DEFAULT_PARAMS) -> list[Completion]:
        completions: list[Completion] = []
        while len(completions) < params.n:
            wanted = params.n - len(completions) if self._multi_sample else 1
            completions.extend(self._request(messages, params, wanted))
        return completions[: params.n]

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
        for attempt in range(1, self.retry.max_attempts + 1):
            try:
                with self._slots:
                    response = self._sdk.chat.completions.create(**kwargs)
                return self._completions(response, messages)
            except (self._api_error, ValueError) as exc:
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

    def _completions(self, response: Any, messages: list[Message]) -> list[Completion]:
        choices = getattr(response, "choices", None)
        if not choices:
            raise BadReply(f"{self.base_url} sent a reply without choices (not a chat completion?)")
        texts = [(c.message.content if c.message else None) or "" for c in choices]
        usage = getattr(response, "usage", None)
        estimated = usage is None
        prompt = usage.prompt_tokens if usage else estimate_prompt_tokens(messages)
        completion = usage.completion_tokens if usage else sum(estimate_tokens(t) for t in texts)
        # Split the response's usage over its choices so the per-reply figures add up to the bill.
        share, rest = divmod(completion or 0, len(choices))
        return [
            Completion(
                text=text,
                usage=Usage(
                    prompt_tokens=(prompt or 0) if i == 0 else 0,
                    completion_tokens=share + (rest if i == 0 else 0),
                ),
                model=self.model,
                provenance=self.provenance,
                extra={
                    "finish_reason": choice.finish_reason,
                    "served_by": getattr(response, "model", None) or self.model,
                    "usage_estimated": estimated,
                },
            )
            for i, (choice, text) in enumerate(zip(choices, texts, strict=True))
        ]


__all__ = ["MappedError", "OpenAIClient", "map_error"]
