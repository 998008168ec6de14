"""A broken or hostile model server must not hang, crash or fool us (issue 17): the real SDK path against
``HostileOpenAIServer``, one mode at a time."""

from __future__ import annotations

import json
import time

import pytest

from autoharness.errors import BadReply, BudgetExceeded, LLMConnectionError, LLMError
from autoharness.llm import Budget, Ledger, MeteredClient, OpenAIClient, Params, ResponseCache, RetryPolicy
from autoharness.llm.base import PaidBadReply
from autoharness.llm.http import MAX_RESPONSE_BYTES
from tests.llm.hostile_openai import HostileOpenAIServer

HI = [{"role": "user", "content": "hi " * 40}]  # 120 characters: an estimate of 4 + 30 = 34 tokens
FAST = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.05)

SHAPES = [
    "not-json",
    "not-utf8",
    "no-choices",
    "empty-choices",
    "choices-string",
    "choice-null",
    "choice-string",
    "message-string",
    "content-int",
    "content-list-of-ints",
    "json-array",
    "deep-nesting",
    "huge-integer",
]


def client(server: HostileOpenAIServer, timeout: float = 30.0, **kw: object) -> OpenAIClient:
    return OpenAIClient("m", base_url=server.base_url, api_key="k", retry=FAST, timeout=timeout, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", SHAPES)
def test_every_malformed_shape_is_a_paid_bad_reply_not_a_crash(mode: str) -> None:
    with HostileOpenAIServer(mode) as server, pytest.raises(PaidBadReply) as info:
        client(server).complete(HI)
    assert len(server.requests) == 1  # not retried: the same request would get the same answer
    message = str(info.value)
    assert "\n" not in message and "not a chat completion" in message, message
    assert info.value.calls == 1 and info.value.usage.prompt_tokens == 34


@pytest.mark.parametrize("mode", SHAPES[:4])
def test_bad_replies_count_against_the_call_budget(mode: str) -> None:
    """8 requests used to run under a 2-call budget: a reply without choices was never counted."""
    with HostileOpenAIServer(mode) as server:
        metered = MeteredClient(client(server), budget=Budget(max_calls=2))
        outcomes = []
        for i in range(6):
            try:
                metered.complete(HI, Params(seed=i))
            except (BadReply, BudgetExceeded) as exc:
                outcomes.append(type(exc).__name__)
    assert len(server.requests) == 2
    assert outcomes == ["PaidBadReply"] * 2 + ["BudgetExceeded"] * 4
    assert metered.ledger.totals().calls == 2 and metered.ledger.totals().prompt_tokens == 68


@pytest.mark.parametrize(
    "mode",
    ["negative-usage", "infinite-usage", "huge-usage", "string-usage", "usage-not-object", "bool-usage"],
)
def test_implausible_usage_is_estimated_never_negative_or_infinite(mode: str, caplog) -> None:
    with HostileOpenAIServer(mode, text="a reply of six words here") as server:
        [reply] = client(server).complete(HI)
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (34, 7)
    assert reply.extra["usage_estimated"] is True
    assert "unusable token usage" in caplog.text


def test_negative_usage_cannot_open_up_a_token_budget() -> None:
    """A server reporting -12M tokens per call ran 6 calls under a budget that stopped the control after 1."""
    with HostileOpenAIServer("negative-usage") as server:
        metered = MeteredClient(client(server), budget=Budget(max_tokens=100))
        with pytest.raises(BudgetExceeded):
            for i in range(6):
                metered.complete(HI, Params(seed=i, max_tokens=20))
    assert (
        len(server.requests) == 2
    )  # 34 + 20 reserved, then 34 + 7 estimated tokens a call: the third would pass 100
    assert metered.ledger.totals().total_tokens > 0


def test_every_choice_counts_even_beyond_n() -> None:
    """5 choices for n=1 with 6,000 tokens: only 2,000 used to be counted."""
    with HostileOpenAIServer("extra-choices", text="one") as server:
        ledger = Ledger()
        [reply] = MeteredClient(client(server), ledger=ledger).complete(HI)
    assert reply.text == "one" and reply.usage.total_tokens == 6_000
    assert ledger.totals().total_tokens == 6_000


@pytest.mark.parametrize("mode", ["trickle", "stall-headers"])
def test_a_trickling_server_hits_the_whole_call_deadline(mode: str) -> None:
    """One byte every 0.25 s kept a call alive forever (each read was within the per-read timeout)."""
    with HostileOpenAIServer(mode) as server:
        started = time.monotonic()
        with pytest.raises(LLMConnectionError, match=r"within 1s \(after 2 attempts\).*--llm-timeout"):
            client(server, timeout=1.0).complete(HI)
        assert time.monotonic() - started < 4
    assert len(server.requests) == 2  # a timeout is retried like any other


def test_a_huge_body_is_cut_at_the_cap_and_counted() -> None:
    with HostileOpenAIServer("huge-body") as server, pytest.raises(PaidBadReply, match="bytes; not read"):
        client(server).complete(HI)
    assert f"{MAX_RESPONSE_BYTES:,}" in str(MAX_RESPONSE_BYTES.__format__(","))
    assert len(server.requests) == 1


def test_a_nested_error_body_is_a_one_line_error() -> None:
    with HostileOpenAIServer("error-body-nested") as server, pytest.raises(LLMConnectionError) as info:
        client(server).complete(HI)
    assert "\n" not in str(info.value) and len(server.requests) == 2


def test_a_redirect_to_another_host_is_refused_not_followed() -> None:
    with HostileOpenAIServer("redirect-cross-host") as server, pytest.raises(LLMError) as info:
        client(server).complete(HI)
    assert "redirected the request to another host (localhost)" in str(info.value)
    assert server.elsewhere.requests == [] and len(server.requests) == 1


def test_credentials_in_the_base_url_are_never_recorded(tmp_path) -> None:
    with HostileOpenAIServer("good", text="fine") as server:
        url = server.base_url.replace("http://", "http://ada:hunter2@")
        backend = OpenAIClient("m", base_url=url, api_key="k", retry=FAST)
        with ResponseCache(tmp_path / "cache.sqlite") as cache:
            [reply] = MeteredClient(backend, cache=cache).complete(HI)
            stored = [r.provenance for r in cache.records()]
        server.mode = "error-500"
        with pytest.raises(LLMConnectionError) as info:
            backend.complete(HI, Params(seed=1))
    # The URL's credentials are still used (httpx sends them as Basic auth), only never recorded.
    assert reply.text == "fine" and server.request_headers[0]["Authorization"].startswith("Basic ")
    for text in (reply.provenance, *stored, str(info.value), backend.base_url):
        assert "hunter2" not in text and "ada" not in text, text
    assert "hunter2" not in (tmp_path / "cache.sqlite").read_bytes().decode("utf-8", "replace")


def test_summary_never_holds_infinity(tmp_path, monkeypatch) -> None:
    from autoharness.cli import main
    from tests.learn.tictactoe import LAX

    monkeypatch.setenv("OPENAI_API_KEY", "k")
    with HostileOpenAIServer("infinite-usage", text=LAX) as server:
        argv = ["learn", "TicTacToe-v0", "--llm", "m", "--base-url", server.base_url, "--out", str(tmp_path)]
        assert main([*argv, "--max-iterations", "1", "--n-envs", "2", "--parallelism", "1"]) == 0

    def refuse(name: str) -> None:
        raise AssertionError(f"summary.json holds {name}")

    summary = json.loads((tmp_path / "summary.json").read_text(), parse_constant=refuse)
    assert 0 < summary["tokens"] < 100_000


def test_learn_stops_at_its_call_budget_when_replies_are_unusable(tmp_path, monkeypatch, capsys) -> None:
    """8 requests used to run under --max-llm-calls 2 (a reply without choices was not a call)."""
    from autoharness.cli import main

    monkeypatch.setenv("OPENAI_API_KEY", "k")
    with HostileOpenAIServer("no-choices") as server:
        argv = ["learn", "TicTacToe-v0", "--llm", "m", "--base-url", server.base_url, "--out", str(tmp_path)]
        assert main([*argv, "--max-llm-calls", "2", "--max-iterations", "8", "--n-envs", "2"]) == 0
    assert len(server.requests) == 2
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["llm_calls"] == 2 and summary["stop_reason"].startswith("budget: LLM calls")
    assert [n["kind"] for n in summary["tree"]] == ["root:bad_reply", "root:bad_reply"]
    assert "Traceback" not in capsys.readouterr().err
