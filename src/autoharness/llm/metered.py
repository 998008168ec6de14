"""The client the rest of autoharness talks to: cache, budget and ledger around any backend.

Per sample of a request: answered from the run's own record or the shared cache if either holds it (free,
counted as cached); otherwise the budget is checked *before* the backend is asked, and the new reply is
priced, stored (committed before it is returned) and added to the ledger. Every reply a run uses, cached or
not, lands in its ``record`` (the run directory's file), so the run can be replayed and resumed on its own
even when the shared cache is off or elsewhere. Threads asking the same request at the same
time wait for each other, so it is paid once; the others get it from the cache.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from ..errors import ConfigError
from .base import DEFAULT_PARAMS, MAX_CALL_TOKENS, Completion, LLMClient, Message, PaidBadReply, Params, Usage
from .cache import ResponseCache
from .cost import Budget, CallRecord, Ledger, ModelPrice, estimate_prompt_tokens
from .transcript import TranscriptRecord, key_params, request_key


def _runs(indices: list[int]) -> list[tuple[int, int]]:
    """Contiguous runs of sample indices as (first, count): each run is one backend call."""
    runs: list[tuple[int, int]] = []
    for index in indices:
        if runs and runs[-1][0] + runs[-1][1] == index:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((index, 1))
    return runs


class MeteredClient:
    """An ``LLMClient`` that never pays twice for a request and stops before the budget is passed."""

    def __init__(
        self,
        backend: LLMClient,
        *,
        cache: ResponseCache | None = None,
        record: ResponseCache | None = None,
        ledger: Ledger | None = None,
        budget: Budget | None = None,
        price: ModelPrice | None = None,
    ) -> None:
        self.backend = backend
        self.model = backend.model
        self.cache = cache
        self.record = record
        self.ledger = ledger if ledger is not None else Ledger()
        self.budget = budget
        self.price = price
        self._guard = threading.Lock()
        self._inflight: dict[str, tuple[threading.Lock, list[int]]] = {}

    @contextmanager
    def _exclusive(self, key: str) -> Iterator[None]:
        """Serialise identical requests (only those); the entry goes once its last user is done."""
        with self._guard:
            lock, users = self._inflight.setdefault(key, (threading.Lock(), [0]))
            users[0] += 1
        try:
            with lock:
                yield
        finally:
            with self._guard:
                users[0] -= 1
                if users[0] == 0:
                    del self._inflight[key]

    def complete(self, messages: list[Message], params: Params = DEFAULT_PARAMS) -> list[Completion]:
        if params.n < 1 or params.sample_offset < 0:
            raise ConfigError(
                f"need n >= 1 and sample_offset >= 0, got n={params.n}, offset={params.sample_offset}"
            )
        wanted = key_params(params)
        if self.cache is None and self.record is None:
            return self._complete(messages, params, wanted)
        with self._exclusive(request_key(self.model, messages, wanted, -1)):
            return self._complete(messages, params, wanted)

    def _complete(
        self, messages: list[Message], params: Params, wanted: dict[str, object]
    ) -> list[Completion]:
        indices = list(range(params.sample_offset, params.sample_offset + params.n))
        found: dict[int, Completion] = {}
        cached_records: list[CallRecord] = []
        for index in indices:
            record = self._lookup(request_key(self.model, messages, wanted, index))
            if record is not None:
                found[index] = Completion(
                    text=record.text,
                    usage=record.usage,
                    model=self.model,
                    provenance=record.provenance,
                    cached=True,
                )
                cached_records.append(CallRecord(self.model, record.usage, 0.0, True, 0.0, record.provenance))
        if cached_records:
            self.ledger.record(cached_records)
        for first, count in _runs([i for i in indices if i not in found]):
            found.update(self._fetch(messages, params, wanted, first, count))
        return [found[i] for i in indices]

    def _lookup(self, key: str) -> TranscriptRecord | None:
        """The run's own record first (resume works without the shared cache), then the shared cache; a
        shared hit is copied into the record so the run directory holds every reply it used."""
        if self.record is not None and (found := self.record.get(key)) is not None:
            return found
        found = self.cache.get(key) if self.cache is not None else None
        if found is not None and self.record is not None:
            self.record.put(found)
        return found

    def _fetch(
        self, messages: list[Message], params: Params, wanted: dict[str, object], first: int, count: int
    ) -> dict[int, Completion]:
        estimate = Usage(
            min(estimate_prompt_tokens(messages), MAX_CALL_TOKENS),
            min((params.max_tokens or 0) * count, MAX_CALL_TOKENS),
        )
        usd_estimate = self.price.cost(estimate) if self.price else 0.0
        reservation = self.ledger.reserve(self.budget, count, estimate.total_tokens, usd_estimate)
        started = time.monotonic()
        try:
            replies = self.backend.complete(
                messages, dataclasses.replace(params, n=count, sample_offset=first)
            )
        except PaidBadReply as exc:  # answered but unusable: it was paid, so it counts against the budget
            exc.cost_usd = self.price.cost(exc.usage) if self.price else 0.0
            seconds = time.monotonic() - started
            paid = [CallRecord(self.model, exc.usage, exc.cost_usd, False, seconds, exc.provenance)]
            unused = CallRecord(self.model, Usage(), 0.0, False, 0.0, exc.provenance)
            self.ledger.record(paid + [unused] * (max(exc.calls, count) - 1), reservation)
            raise
        except BaseException:
            self.ledger.release(reservation)
            raise
        seconds = time.monotonic() - started
        now = datetime.now(UTC).isoformat(timespec="seconds")
        out: dict[int, Completion] = {}
        records: list[CallRecord] = []
        for index, reply in zip(range(first, first + count), replies, strict=True):
            priced = dataclasses.replace(reply, cost_usd=self.price.cost(reply.usage) if self.price else 0.0)
            stored = TranscriptRecord(
                self.model, messages, wanted, index, priced.text, priced.usage, priced.provenance, now
            )
            for target in (self.cache, self.record):
                if target is not None:
                    target.put(stored)
            records.append(
                CallRecord(self.model, priced.usage, priced.cost_usd, False, seconds, priced.provenance)
            )
            out[index] = priced
        self.ledger.record(records, reservation)
        return out

    def close(self) -> None:
        for target in (self.cache, self.record):
            if target is not None:
                target.close()


__all__ = ["MeteredClient"]
