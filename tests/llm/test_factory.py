"""``make_client``: specs, key lookup, and the whole stack end to end over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from autoharness.errors import ConfigError, LLMAuthError
from autoharness.llm import (
    Budget,
    LLMClient,
    ManualClient,
    OpenAIClient,
    Params,
    ReplayClient,
    RetryPolicy,
    export_transcript,
    make_client,
)
from tests.llm.fake_openai import FakeOpenAIServer, error_reply

HI = [{"role": "user", "content": "hi"}]


@pytest.fixture(autouse=True)
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "OPENROUTER_API_KEY",
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)


def test_model_spec_through_cache_to_transcript_and_replay(tmp_path: Path) -> None:
    cache = tmp_path / "llm.sqlite"
    with FakeOpenAIServer(lambda body: "```python\nprint(1)\n```") as server:
        live = make_client("gpt-4o-mini", base_url=server.base_url, api_key="k", cache_path=cache)
        assert isinstance(live, LLMClient) and isinstance(live.backend, OpenAIClient)
        first = live.complete(HI, Params(temperature=0))
        second = live.complete(HI, Params(temperature=0))
    assert len(server.requests) == 1 and second[0].cached and not first[0].cached
    assert first[0].cost_usd > 0 and live.ledger.totals().calls == 1
    export_transcript(cache, tmp_path / "t.jsonl")
    replay = make_client(f"replay:{tmp_path / 't.jsonl'}")
    [again] = replay.complete(HI, Params(temperature=0))
    assert again.text == first[0].text and "originally: openai-compatible:gpt-4o-mini@" in again.provenance


@pytest.mark.parametrize("spec", ["openai:llama3.1:8b", "llama3.1:8b", "qwen2.5-coder:7b"])
def test_colons_in_model_names_are_kept(spec: str) -> None:
    client = make_client(spec, base_url="http://127.0.0.1:1/v1")
    assert client.model == spec.removeprefix("openai:")


def test_provider_presets_fill_url_and_find_their_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", "or-key")
    client = make_client("openrouter:google/gemini-2.5-flash")
    backend = client.backend
    assert isinstance(backend, OpenAIClient)
    assert backend.base_url == "https://openrouter.ai/api/v1" and backend._sdk.api_key == "or-key"
    assert client.price is not None  # priced by its bare name
    ollama = make_client("ollama:llama3.1:8b").backend
    assert isinstance(ollama, OpenAIClient) and ollama.base_url == "http://localhost:11434/v1"


def test_hosted_provider_without_key_is_config_error() -> None:
    with pytest.raises(ConfigError, match="set GEMINI_API_KEY"):
        make_client("gemini:gemini-2.5-flash")
    with pytest.raises(ConfigError, match="set OPENAI_API_KEY"):
        make_client("gpt-4o")
    with pytest.raises(ConfigError, match="set ANTHROPIC_API_KEY"):
        make_client("claude-sonnet-4-5", base_url="https://api.anthropic.com/v1/")


def test_base_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9999/v1")
    backend = make_client("local-model").backend
    assert isinstance(backend, OpenAIClient) and backend.base_url == "http://127.0.0.1:9999/v1"


def test_wrong_key_surfaces_as_one_line_auth_error() -> None:
    with FakeOpenAIServer(lambda body: error_reply(401, "invalid api key")) as server:
        client = make_client("m", base_url=server.base_url, api_key="bad", retry=RetryPolicy(2, 0.01, 0.01))
        with pytest.raises(LLMAuthError, match="refused the API key"):
            client.complete(HI)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty --llm spec"),
        ("   ", "empty --llm spec"),
        ("openai:", "no model name"),
        ("replay:", "needs a transcript"),
        ("replay:/nonexistent/t.jsonl", "no transcript at"),
        ("replya:run.jsonl", "did you mean replay:"),
        ("opnai:gpt-4o", "did you mean openai:"),
    ],
)
def test_bad_specs_are_config_errors(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_client(spec)


def test_manual_spec_and_flags_that_do_not_apply(tmp_path: Path) -> None:
    client = make_client(f"manual:{tmp_path / 'answers'}", manual_provenance="manual: by the lead")
    assert isinstance(client.backend, ManualClient) and client.backend.provenance == "manual: by the lead"
    assert (tmp_path / "answers").is_dir()
    with pytest.raises(ConfigError, match="--base-url and an API key"):
        make_client("manual", base_url="http://localhost:1/v1")


def test_money_budget_needs_a_price() -> None:
    with pytest.raises(ConfigError, match="price for model 'my-local'"):
        make_client("my-local", base_url="http://127.0.0.1:1/v1", budget=Budget(max_usd=1.0))


def test_replay_of_multi_model_transcript_needs_a_model(tmp_path: Path) -> None:
    cache = tmp_path / "c.sqlite"
    with FakeOpenAIServer(lambda body: "x") as server:
        for model in ("a", "b"):
            make_client(model, base_url=server.base_url, cache_path=cache).complete(HI)
    export_transcript(cache, tmp_path / "t.jsonl")
    with pytest.raises(ConfigError, match=r"several models \(a, b\)"):
        make_client(f"replay:{tmp_path / 't.jsonl'}")
    assert make_client(f"replay:{tmp_path / 't.jsonl'}#b").complete(HI)[0].text == "x"
    with pytest.raises(ConfigError, match="no replies of 'c'"):
        ReplayClient(tmp_path / "t.jsonl", model="c")
