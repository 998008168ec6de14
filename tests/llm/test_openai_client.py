"""The real ``openai`` SDK path, end to end, against a loopback server speaking the wire format."""

from __future__ import annotations

import json
import socket
import threading
import time

import openai
import pytest

from autoharness.errors import BadReply, ConfigError, LLMAuthError, LLMConnectionError, LLMError, RateLimited
from autoharness.llm import OpenAIClient, Params, RetryPolicy
from autoharness.llm.providers import Provider
from autoharness.llm.retry import parse_retry_after
from tests.llm.fake_openai import FakeOpenAIServer, chat_completion, error_reply

FAST = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.5)
HI = [{"role": "user", "content": "hi"}]


def client(server: FakeOpenAIServer, **kw: object) -> OpenAIClient:
    return OpenAIClient("test-model", base_url=server.base_url, api_key="sk-test", retry=FAST, **kw)  # type: ignore[arg-type]


def always(reply: object):
    """A handler that answers every request the same way."""
    return lambda body: reply


def script(*replies: object):
    """A handler that answers the given replies in order (the last one repeats)."""
    queue = list(replies)

    def handler(body: dict) -> object:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return handler


def test_success_sends_wire_format_and_reads_usage() -> None:
    with FakeOpenAIServer(lambda body: "hello there") as server:
        [reply] = client(server).complete(HI, Params(temperature=0.2, max_tokens=50, seed=7))
    body = server.requests[0]
    assert body["model"] == "test-model" and body["messages"] == HI
    assert body["temperature"] == 0.2 and body["max_tokens"] == 50 and body["seed"] == 7 and "n" not in body
    assert server.request_headers[0]["Authorization"] == "Bearer sk-test"
    assert reply.text == "hello there"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (10, 2)
    assert reply.provenance == f"openai-compatible:test-model@{server.base_url}"
    assert reply.extra["finish_reason"] == "stop"


def test_429_with_retry_after_is_honoured_then_succeeds() -> None:
    handler = script(error_reply(429, "Rate limit reached", {"Retry-After": "0.3"}), "ok")
    with FakeOpenAIServer(handler) as server:
        started = time.monotonic()
        [reply] = client(server).complete(HI)
        waited = time.monotonic() - started
    assert reply.text == "ok" and len(server.requests) == 2
    assert waited >= 0.3


def test_500_then_success() -> None:
    with FakeOpenAIServer(script(error_reply(500, "boom"), error_reply(502, "bad gw"), "fine")) as server:
        assert client(server).complete(HI)[0].text == "fine"
    assert len(server.requests) == 3


def test_persistent_429_becomes_rate_limited_after_all_attempts() -> None:
    handler = always(error_reply(429, "slow down", {"retry-after-ms": "10"}))
    with FakeOpenAIServer(handler) as server, pytest.raises(RateLimited, match="after 3 attempts") as info:
        client(server).complete(HI)
    assert len(server.requests) == 3
    assert isinstance(info.value.__cause__, openai.RateLimitError)


def test_quota_exhausted_429_is_not_retried() -> None:
    with (
        FakeOpenAIServer(
            lambda body: error_reply(429, "You exceeded your quota", code="insufficient_quota")
        ) as server,
        pytest.raises(RateLimited, match="quota exhausted"),
    ):
        client(server).complete(HI)
    assert len(server.requests) == 1


def test_persistent_5xx_becomes_connection_error() -> None:
    handler = always(error_reply(503, "overloaded"))
    with FakeOpenAIServer(handler) as server, pytest.raises(LLMConnectionError, match="HTTP 503"):
        client(server).complete(HI)
    assert len(server.requests) == 3


def test_malformed_json_is_bad_reply_without_retry() -> None:
    with (
        FakeOpenAIServer(
            lambda body: (200, {"Content-Type": "application/json"}, b'{"choices": [')
        ) as server,
        pytest.raises(BadReply, match="not a chat completion") as info,
    ):
        client(server).complete(HI)
    assert len(server.requests) == 1 and info.value.__cause__ is not None


def test_reply_without_choices_is_bad_reply() -> None:
    handler = always((200, {"Content-Type": "application/json"}, b"{}"))
    with FakeOpenAIServer(handler) as server, pytest.raises(BadReply, match="no choices"):
        client(server).complete(HI)


def test_slow_reply_times_out_and_is_retried() -> None:
    def slow(body: dict) -> str:
        time.sleep(0.6)
        return "late"

    handler = slow
    with (
        FakeOpenAIServer(handler) as server,
        pytest.raises(LLMConnectionError, match=r"reply within 0.2s \(after 2 attempts\)") as info,
    ):
        OpenAIClient(
            "m", base_url=server.base_url, api_key="k", timeout=0.2, retry=RetryPolicy(2, 0.01, 0.01)
        ).complete(HI)
    assert isinstance(info.value.__cause__, openai.APITimeoutError)
    assert len(server.requests) == 2


def test_wrong_key_is_auth_error_on_one_line_naming_the_variable() -> None:
    with (
        FakeOpenAIServer(
            lambda body: error_reply(401, "Incorrect API key provided: sk-test.\nSee docs")
        ) as server,
        pytest.raises(LLMAuthError) as info,
    ):
        client(server).complete(HI)
    message = str(info.value)
    assert "\n" not in message and "HTTP 401" in message and "OPENAI_API_KEY" in message
    assert len(server.requests) == 1


def test_unknown_model_404_is_not_retried_and_hints_at_spec() -> None:
    handler = always(error_reply(404, "The model `nope` does not exist"))
    with (
        FakeOpenAIServer(handler) as server,
        pytest.raises(LLMError, match=r"HTTP 404.*check the model name"),
    ):
        client(server).complete(HI)
    assert len(server.requests) == 1


def test_unreachable_endpoint_is_connection_error() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nobody listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(LLMConnectionError, match=r"cannot reach .* is the server running"):
        OpenAIClient(
            "m", base_url=f"http://127.0.0.1:{port}/v1", api_key="k", retry=RetryPolicy(2, 0.01, 0.01)
        ).complete(HI)


def test_n_samples_in_one_request_and_usage_split_adds_up() -> None:
    with FakeOpenAIServer(lambda body: ["one", "two words", "three more words"]) as server:
        replies = client(server).complete(HI, Params(n=3))
    assert [r.text for r in replies] == ["one", "two words", "three more words"]
    assert server.requests[0]["n"] == 3
    assert sum(r.usage.prompt_tokens for r in replies) == 10
    assert sum(r.usage.completion_tokens for r in replies) == 6


def test_provider_ignoring_n_is_asked_again() -> None:
    with FakeOpenAIServer(lambda body: ["only one"]) as server:
        replies = client(server).complete(HI, Params(n=3))
    assert len(replies) == 3 and len(server.requests) == 3
    assert [r.get("n") for r in server.requests] == [3, 2, None]


def test_missing_usage_is_estimated_and_flagged() -> None:
    payload = json.dumps(chat_completion(["x" * 40], usage=False)).encode()
    with FakeOpenAIServer(lambda body: (200, {"Content-Type": "application/json"}, payload)) as server:
        [reply] = client(server).complete(HI)
    assert reply.usage.completion_tokens == 10 and reply.extra["usage_estimated"] is True


def test_concurrency_limit_is_shared_by_threads() -> None:
    def slowish(body: dict) -> str:
        time.sleep(0.1)
        return "ok"

    with FakeOpenAIServer(slowish) as server:
        shared = client(server, max_concurrency=2)
        threads = [threading.Thread(target=shared.complete, args=(HI,)) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(server.requests) == 6
    assert server.max_in_flight == 2


def test_bad_base_url_and_empty_model_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="not an http"):
        OpenAIClient("m", base_url="localhost:11434", api_key="k")
    with pytest.raises(ConfigError, match="empty model"):
        OpenAIClient("", base_url="http://127.0.0.1:1/v1", api_key="k")


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "2"}, 2.0),
        ({"retry-after-ms": "250"}, 0.25),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], seconds: float | None) -> None:
    assert parse_retry_after(headers) == seconds


def test_backoff_is_exponential_jittered_and_capped() -> None:
    policy = RetryPolicy(max_attempts=10, base_delay=1.0, max_delay=8.0)
    for attempt, step in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]:
        delays = [policy.delay(attempt) for _ in range(50)]
        assert all(step / 2 <= d <= step for d in delays) and len(set(delays)) > 1
    assert policy.delay(1, retry_after=3.0) == 3.0
    assert policy.delay(1, retry_after=100.0) == 8.0


def test_provider_that_insists_on_n_1_gets_one_request_per_sample() -> None:
    one_at_a_time = Provider("strict", None, (), needs_key=False, multi_sample=False)
    with FakeOpenAIServer(always("x")) as server:
        replies = client(server, provider=one_at_a_time).complete(HI, Params(n=3))
    assert len(replies) == 3 and [r.get("n") for r in server.requests] == [None, None, None]


def test_a_hostile_retry_after_is_ignored_not_slept_on() -> None:
    policy = RetryPolicy(max_attempts=3, base_delay=0.5, max_delay=2.0)
    for value in (float("nan"), float("inf"), -5.0, 1e9):
        delay = policy.delay(1, value)
        assert 0.0 <= delay <= 2.0
