"""Prices, budgets that stop before a call, and the running ledger."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from autoharness.errors import BudgetExceeded, ConfigError, RateLimited
from autoharness.llm import (
    Budget,
    Ledger,
    MeteredClient,
    ModelPrice,
    Params,
    PriceTable,
    ResponseCache,
    Usage,
)
from tests.fakes import ScriptedLLM

HI = [{"role": "user", "content": "hi"}]


def test_budget_max_calls_stops_before_the_call(tmp_path: Path) -> None:
    llm = ScriptedLLM(lambda m: "ok")
    client = MeteredClient(llm, budget=Budget(max_calls=2), cache=ResponseCache(tmp_path / "c.sqlite"))
    client.complete(HI)
    client.complete(HI, Params(sample_offset=1))
    with pytest.raises(BudgetExceeded, match="2 of max 2 calls"):
        client.complete(HI, Params(sample_offset=2))
    assert llm.calls == 2
    # Cached replies cost nothing and stay available after the budget is spent.
    assert client.complete(HI)[0].cached
    assert client.ledger.totals().calls == 2


def test_budget_tokens_counts_the_estimate_of_the_next_call() -> None:
    llm = ScriptedLLM(lambda m: "x" * 400)  # 100 completion tokens
    client = MeteredClient(llm, budget=Budget(max_tokens=300))
    client.complete(HI)
    client.complete(HI, Params(sample_offset=1))
    with pytest.raises(BudgetExceeded, match="would pass max 300"):
        client.complete(HI, Params(sample_offset=2, max_tokens=100))
    assert llm.calls == 2


def test_budget_usd_uses_the_price() -> None:
    price = ModelPrice(input_per_mtok=1_000_000.0, output_per_mtok=1_000_000.0)  # $1 a token
    client = MeteredClient(ScriptedLLM(lambda m: "abcd"), budget=Budget(max_usd=10.0), price=price)
    [reply] = client.complete(HI)
    assert reply.cost_usd == pytest.approx(6.0)  # 5 prompt + 1 completion token
    with pytest.raises(BudgetExceeded, match=r"\$6.0000 spent"):
        client.complete(HI, Params(sample_offset=1))
    assert client.ledger.totals().cost_usd == pytest.approx(6.0)


def test_parallel_workers_cannot_overshoot_the_call_budget() -> None:
    gate = threading.Event()

    def slow(messages: list) -> str:
        gate.wait(2)
        return "ok"

    llm = ScriptedLLM(slow)
    client = MeteredClient(llm, budget=Budget(max_calls=3))
    outcomes: list[str] = []

    def worker(i: int) -> None:
        try:
            client.complete([{"role": "user", "content": str(i)}])
            outcomes.append("ok")
        except BudgetExceeded as exc:
            outcomes.append("stopped" if "in flight" in str(exc) else "late")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 3 and llm.calls == 3


def test_failed_call_releases_its_reservation() -> None:
    def fail(messages: list) -> str:
        raise RateLimited("429 after retries")

    client = MeteredClient(ScriptedLLM(fail), budget=Budget(max_calls=1))
    for _ in range(3):
        with pytest.raises(RateLimited):
            client.complete(HI)
    assert client.ledger.totals().calls == 0


def test_ledger_totals_and_summary() -> None:
    ledger = Ledger()
    client = MeteredClient(ScriptedLLM(lambda m: "a" * 40), ledger=ledger, price=ModelPrice(1.0, 2.0))
    client.complete(HI, Params(n=2))
    totals = ledger.totals()
    assert (totals.calls, totals.prompt_tokens, totals.completion_tokens) == (2, 5, 20)
    assert totals.cost_usd == pytest.approx((5 * 1.0 + 20 * 2.0) / 1e6)
    assert str(totals).startswith("2 LLM calls (0 cached), 25 tokens, $0.0000")
    assert len(ledger.records) == 2


def test_price_lookup_handles_prefixes_and_dated_variants() -> None:
    table = PriceTable.load()
    mini = table.lookup("gpt-4o-mini")
    assert mini is not None and mini.input_per_mtok == 0.15
    assert table.lookup("gpt-4o-mini-2024-07-18") == mini
    assert table.lookup("openai/gpt-4o-mini") == mini
    assert table.lookup("gpt-4o") != mini
    assert table.lookup("llama3.1:8b") is None
    assert mini.cost(Usage(1_000_000, 1_000_000)) == pytest.approx(0.75)


def test_price_override_file_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    override = tmp_path / "prices.json"
    override.write_text(
        '{"models": {"my-model": {"input": 1, "output": 3}, "gpt-4o": {"input": 0, "output": 0}}}'
    )
    monkeypatch.setenv("AUTOHARNESS_PRICES", str(override))
    table = PriceTable.load()
    assert table.lookup("my-model") == ModelPrice(1.0, 3.0)
    assert table.lookup("gpt-4o") == ModelPrice(0.0, 0.0)
    assert table.lookup("gpt-4o-mini") is not None  # packaged entries stay


def test_bad_price_file_and_budget_are_config_errors(tmp_path: Path) -> None:
    bad = tmp_path / "p.json"
    bad.write_text('{"models": {"x": {"input": "cheap"}}}')
    with pytest.raises(ConfigError, match="USD per million tokens"):
        PriceTable.load(bad)
    with pytest.raises(ConfigError, match="cannot read price file"):
        PriceTable.load(tmp_path / "missing.json")
    with pytest.raises(ConfigError, match="max_calls must be >= 0"):
        Budget(max_calls=-1)
