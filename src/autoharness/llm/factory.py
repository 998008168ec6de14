"""``--llm SPEC --base-url URL`` → a ready client: the one factory the CLIs call.

Specs:
    MODEL               an OpenAI-compatible model (endpoint: --base-url, $OPENAI_BASE_URL or OpenAI);
                        colons belong to the name (``llama3.1:8b``)
    openai:MODEL        the same, explicitly
    PROVIDER:MODEL      a preset endpoint: openrouter, gemini, anthropic, ollama, vllm, llamacpp
    manual[:DIR]        a person or outside tool answers through files in DIR (``ManualClient``)
    replay:FILE[#MODEL] replies from a recorded JSONL transcript (``ReplayClient``); MODEL picks one
                        model's replies when the transcript holds several
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

from ..errors import ConfigError
from .base import LLMClient
from .cache import ResponseCache
from .cost import Budget, Ledger, PriceTable
from .manual import DEFAULT_DIR, DEFAULT_PROVENANCE, ManualClient
from .metered import MeteredClient
from .openai_client import DEFAULT_TIMEOUT, OpenAIClient
from .providers import PROVIDERS
from .replay import ReplayClient
from .retry import RetryPolicy

_PREFIXES = ("manual", "replay", *PROVIDERS)
SPEC_HELP = (
    "MODEL, openai:MODEL, PROVIDER:MODEL (" + ", ".join(PROVIDERS) + "), manual[:DIR] or replay:FILE[#MODEL]"
)


def make_client(
    spec: str,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    cache_path: str | Path | None = None,
    record_path: str | Path | None = None,
    budget: Budget | None = None,
    ledger: Ledger | None = None,
    prices: PriceTable | None = None,
    timeout: float | None = None,
    max_concurrency: int = 4,
    retry: RetryPolicy | None = None,
    manual_provenance: str | None = None,
) -> MeteredClient:
    """Build the backend ``spec`` names, wrapped with the cache (if ``cache_path``), budget and ledger.

    ``cache_path`` is the shared cache (the CLIs pass the per-user ``default_cache_path()`` unless
    ``--no-cache``); ``record_path`` is a run's own record of its calls (for replay and resume). A replay
    never writes the shared cache: its replies are already on disk and were not sampled here.

    No network traffic happens here; a wrong key or unreachable endpoint surfaces on the first call as
    ``LLMAuthError`` / ``LLMConnectionError`` with a one-line message. A money budget for a model with
    no known price is refused up front (``ConfigError``), since it could never be enforced.
    """
    spec = spec.strip()
    prefix, sep, rest = spec.partition(":")
    backend: LLMClient
    price = None
    if not spec:
        raise ConfigError(f"empty --llm spec; expected {SPEC_HELP}")
    if prefix in ("manual", "replay") and (base_url or api_key):
        raise ConfigError(f"--base-url and an API key apply to model endpoints, not to {prefix}")
    if prefix == "manual":
        # Who answers is recorded with every reply: $AUTOHARNESS_MANUAL_LABEL lets the person (or tool)
        # say so truthfully, e.g. "manual: answered by Ada Lovelace" or "manual: answered by <tool>".
        label = manual_provenance or os.environ.get("AUTOHARNESS_MANUAL_LABEL") or DEFAULT_PROVENANCE
        backend = ManualClient(rest or DEFAULT_DIR, provenance=label)
    elif prefix == "replay":
        if not rest:
            raise ConfigError("replay needs a transcript: --llm replay:FILE")
        path, _, model = rest.partition("#")
        backend = ReplayClient(path, model or None)
    else:
        provider = PROVIDERS.get(prefix) if sep else None
        model = rest if provider else spec
        if sep and provider is None:
            _reject_typo(prefix)
        if not model:
            raise ConfigError(f"no model name in --llm {spec!r}; expected {SPEC_HELP}")
        backend = OpenAIClient(
            model,
            base_url=base_url,
            api_key=api_key,
            provider=provider,
            timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
            retry=retry,
            max_concurrency=max_concurrency,
        )
        price = (prices or PriceTable.load()).lookup(model)
        if budget is not None and budget.max_usd is not None and price is None:
            raise ConfigError(
                f"a money budget needs a price for model {model!r}: "
                "add it to a price file named by AUTOHARNESS_PRICES"
            )
    cache = ResponseCache(cache_path) if cache_path is not None and prefix != "replay" else None
    record = ResponseCache(record_path) if record_path is not None else None
    return MeteredClient(backend, cache=cache, record=record, ledger=ledger, budget=budget, price=price)


def _reject_typo(prefix: str) -> None:
    """``replya:x`` is almost surely a typo, not a model; model names with colons (``qwen2.5:7b``) pass."""
    close = difflib.get_close_matches(prefix, _PREFIXES, n=1, cutoff=0.75)
    if close:
        raise ConfigError(
            f"unknown --llm backend {prefix!r}; did you mean {close[0]}:? (expected {SPEC_HELP})"
        )


__all__ = ["SPEC_HELP", "make_client"]
