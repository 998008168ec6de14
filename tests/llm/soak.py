"""Soak against ``HostileOpenAIServer``: for each mode in turn, learn TicTacToe against the misbehaving
server, then resume the same run against a good one. Shared by ``test_soak.py`` (a short pass in the
default suite) and ``benchmarks/soak_hostile_server.py`` (every mode, several rounds).

A pass holds when every run finished or stopped on one line (an ``AutoharnessError``; never another
exception), the call budget held (run summary: calls ≤ the limit, tokens and cost ≥ 0 and finite), the
resumed run finished with the correct harness, and the process's peak memory stayed under a bound.
"""

from __future__ import annotations

import math
import resource
import time
from dataclasses import dataclass
from pathlib import Path

from autoharness.errors import AutoharnessError
from autoharness.learn.config import LearnConfig
from autoharness.learn.loop import LLM_CACHE, learn
from autoharness.llm import RetryPolicy, make_client
from tests.learn.tictactoe import GOOD, LAX
from tests.llm.hostile_openai import HostileOpenAIServer

MAX_CALLS = 3
CONFIG = LearnConfig(n_envs=2, parallelism=1, max_iterations=4, max_llm_calls=MAX_CALLS)
RETRY = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.05)
LLM_TIMEOUT = 1.5  # seconds per request as a whole: the trickling modes hit it


@dataclass(frozen=True, slots=True)
class SoakResult:
    mode: str
    first: str  # "finished: <stop reason>" or "error: <one line>"
    resumed: str
    calls: int
    seconds: float
    peak_rss_mb: float


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run(server: HostileOpenAIServer, out: Path, resume: bool) -> tuple[str, int]:
    client = make_client(
        "m",
        base_url=server.base_url,
        api_key="k",
        record_path=out / LLM_CACHE,
        retry=RETRY,
        timeout=LLM_TIMEOUT,
    )
    try:
        result = learn("TicTacToe-v0", CONFIG, client, out, resume=resume)
    except AutoharnessError as exc:  # the CLI prints these as one line
        message = str(exc)
        if "\n" in message:
            raise AssertionError(f"a multi-line error: {message!r}") from exc
        return f"error: {message}", 0
    finally:
        client.close()
    if not (0 <= result.llm_calls <= MAX_CALLS + 1):  # the budget: at most one call in flight past it
        raise AssertionError(f"{result.llm_calls} calls under a budget of {MAX_CALLS}")
    if not (result.tokens >= 0 and math.isfinite(result.cost_usd) and result.cost_usd >= 0):
        raise AssertionError(f"bad totals: {result.tokens} tokens, ${result.cost_usd}")
    return f"finished: {result.stop_reason}", result.llm_calls


def soak_mode(mode: str, directory: Path) -> SoakResult:
    """Learn against ``mode``, then resume against the good server; raises AssertionError on a breach."""
    started = time.monotonic()
    out = directory / mode
    with HostileOpenAIServer(mode, text=LAX) as server:
        first, calls = _run(server, out, resume=False)
        server.mode, server.text = "good", GOOD
        resumable = (out / "run.sqlite").exists()
        resumed, _ = _run(server, out, resume=resumable)
    if not resumed.startswith("finished"):
        raise AssertionError(f"{mode}: the resumed run did not finish: {resumed}")
    return SoakResult(mode, first, resumed, calls, time.monotonic() - started, _peak_rss_mb())


__all__ = ["CONFIG", "MAX_CALLS", "SoakResult", "soak_mode"]
