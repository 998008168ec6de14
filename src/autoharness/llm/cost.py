"""Token and money accounting: a price table, a run budget, and a thread-safe running ledger.

The budget is checked *before* a call: the ledger reserves the call's estimated size (prompt tokens by
a chars/4 estimate, plus ``max_tokens`` per sample when set) so parallel workers cannot overshoot
together; the reservation is replaced by the real usage when the reply arrives. A limit can therefore
be passed only by the difference between one call's estimate and its real completion length.
"""

from __future__ import annotations

import json
import math
import os
import threading
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ..errors import BudgetExceeded, ConfigError
from .base import Message, Usage

PRICES_ENV = "AUTOHARNESS_PRICES"
MAX_USD_PER_MTOK = 1_000_000.0  # no model costs more; with bounded token counts, every cost stays finite


def estimate_tokens(text: str) -> int:
    """Rough token count (4 characters a token) for budgeting and for servers that report no usage."""
    return math.ceil(len(text) / 4)


def estimate_prompt_tokens(messages: list[Message]) -> int:
    return sum(estimate_tokens(m["content"]) + 4 for m in messages)


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """USD per million input (prompt) and output (completion) tokens."""

    input_per_mtok: float
    output_per_mtok: float

    def cost(self, usage: Usage) -> float:
        return (
            usage.prompt_tokens * self.input_per_mtok + usage.completion_tokens * self.output_per_mtok
        ) / 1e6


class PriceTable:
    """Model name → price. Lookups tolerate provider prefixes (``openai/gpt-4o`` on OpenRouter,
    ``models/gemini-2.5-flash``) and dated variants (``gpt-4o-mini-2024-07-18`` → ``gpt-4o-mini``)."""

    def __init__(self, prices: dict[str, ModelPrice]) -> None:
        self.prices = dict(prices)

    @classmethod
    def load(cls, path: str | Path | None = None) -> PriceTable:
        """The packaged table, overlaid by ``path`` or else the file named by ``$AUTOHARNESS_PRICES``."""
        packaged = resources.files(__package__).joinpath("prices.json").read_text(encoding="utf-8")
        prices = _parse_prices(packaged, "packaged prices.json")
        override = path if path is not None else os.environ.get(PRICES_ENV)
        if override:
            try:
                text = Path(override).read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"cannot read price file {override}: {exc.strerror}") from exc
            prices.update(_parse_prices(text, str(override)))
        return cls(prices)

    def lookup(self, model: str) -> ModelPrice | None:
        for name in (model, model.rsplit("/", 1)[-1]):
            if name in self.prices:
                return self.prices[name]
            stems = [key for key in self.prices if name.startswith(key + "-")]
            if stems:
                return self.prices[max(stems, key=len)]
        return None


def _parse_prices(text: str, source: str) -> dict[str, ModelPrice]:
    """Parse ``{"models": {name: {"input": usd_per_mtok, "output": usd_per_mtok}}}``."""
    try:
        models = json.loads(text)["models"]
        prices = {
            str(name): ModelPrice(float(entry["input"]), float(entry["output"]))
            for name, entry in models.items()
        }
        for name, price in prices.items():
            for value in (price.input_per_mtok, price.output_per_mtok):
                if not (math.isfinite(value) and 0 <= value <= MAX_USD_PER_MTOK):
                    raise ValueError(f"{name}: a price must be 0..{MAX_USD_PER_MTOK:g} USD, got {value}")
        return prices
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise ConfigError(
            f'price file {source} is not {{"models": {{NAME: {{"input": USD, "output": USD}}}}}} '
            f"(USD per million tokens): {exc}"
        ) from exc


@dataclass(frozen=True, slots=True)
class Budget:
    """Run limits; ``None`` means unlimited. A call is one sampled reply that was paid (not cached)."""

    max_calls: int | None = None
    max_tokens: int | None = None
    max_usd: float | None = None

    def __post_init__(self) -> None:
        for name in ("max_calls", "max_tokens", "max_usd"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ConfigError(f"budget {name} must be >= 0, got {value}")


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One reply as the ledger saw it."""

    model: str
    usage: Usage
    cost_usd: float
    cached: bool
    seconds: float
    provenance: str


@dataclass(frozen=True, slots=True)
class LedgerTotals:
    calls: int = 0
    cached_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __str__(self) -> str:
        return (
            f"{self.calls} LLM calls ({self.cached_calls} cached), "
            f"{self.total_tokens:,} tokens, ${self.cost_usd:.4f}"
        )


@dataclass(slots=True)
class Reservation:
    calls: int
    tokens: int
    usd: float


@dataclass
class Ledger:
    """Running totals of a run, safe to share between threads; ``totals()`` is cheap enough to poll live."""

    records: list[CallRecord] = field(default_factory=list)
    _totals: LedgerTotals = field(default_factory=LedgerTotals)
    _pending: Reservation = field(default_factory=lambda: Reservation(0, 0, 0.0))
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def totals(self) -> LedgerTotals:
        with self._lock:
            return self._totals

    def reserve(self, budget: Budget | None, calls: int, tokens: int, usd: float) -> Reservation:
        """Claim room for a call or raise ``BudgetExceeded`` without making it."""
        with self._lock:
            t, p = self._totals, self._pending
            if budget is not None:
                if budget.max_calls is not None and t.calls + p.calls + calls > budget.max_calls:
                    raise BudgetExceeded(
                        f"LLM budget reached: {t.calls} of max {budget.max_calls} calls used"
                        + (f" ({p.calls} in flight)" if p.calls else "")
                    )
                if budget.max_tokens is not None and t.total_tokens + p.tokens + tokens > budget.max_tokens:
                    raise BudgetExceeded(
                        f"LLM budget reached: {t.total_tokens:,} tokens used, the next call "
                        f"(~{tokens:,} tokens) would pass max {budget.max_tokens:,}"
                    )
                if budget.max_usd is not None and t.cost_usd + p.usd + usd > budget.max_usd:
                    raise BudgetExceeded(
                        f"LLM budget reached: ${t.cost_usd:.4f} spent, the next call (~${usd:.4f}) "
                        f"would pass max ${budget.max_usd:.4f}"
                    )
            reservation = Reservation(calls, tokens, usd)
            self._pending = Reservation(p.calls + calls, p.tokens + tokens, p.usd + usd)
            return reservation

    def release(self, reservation: Reservation) -> None:
        with self._lock:
            p = self._pending
            self._pending = Reservation(
                p.calls - reservation.calls, p.tokens - reservation.tokens, p.usd - reservation.usd
            )

    def record(self, records: list[CallRecord], reservation: Reservation | None = None) -> None:
        """Add replies to the totals, replacing their reservation (if any) by what they really cost."""
        if reservation is not None:
            self.release(reservation)
        with self._lock:
            t = self._totals
            paid = [r for r in records if not r.cached]
            self._totals = LedgerTotals(
                calls=t.calls + len(paid),
                cached_calls=t.cached_calls + len(records) - len(paid),
                prompt_tokens=t.prompt_tokens + sum(r.usage.prompt_tokens for r in paid),
                completion_tokens=t.completion_tokens + sum(r.usage.completion_tokens for r in paid),
                cost_usd=t.cost_usd + sum(r.cost_usd for r in paid),
            )
            self.records.extend(records)


__all__ = [
    "Budget",
    "CallRecord",
    "Ledger",
    "LedgerTotals",
    "ModelPrice",
    "PriceTable",
    "estimate_tokens",
]
