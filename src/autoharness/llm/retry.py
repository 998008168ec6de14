"""How long to wait before trying a failed request again: capped exponential backoff with jitter,
or the server's own ``Retry-After`` when it sends one (also capped, so a hostile header cannot stall us)."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from ..errors import ConfigError


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``max_attempts`` counts the first try; waits grow ``base_delay * 2**k`` up to ``max_delay``."""

    max_attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 60.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_delay < 0 or self.max_delay < 0:
            raise ConfigError("retry policy needs max_attempts >= 1 and non-negative delays")

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based).

        ``Retry-After`` is honoured as given (up to ``max_delay``); otherwise "equal jitter": half the
        exponential step plus a random half, so parallel workers that failed together spread out.
        """
        if retry_after is not None and math.isfinite(retry_after):  # a hostile "nan" or "inf" is ignored
            return min(max(retry_after, 0.0), self.max_delay)
        step = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return step / 2 + self.rng.uniform(0, step / 2)


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from ``retry-after-ms`` (OpenAI), or ``Retry-After`` as seconds or an HTTP date."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if "retry-after-ms" in lowered:
        try:
            return float(lowered["retry-after-ms"]) / 1000
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


__all__ = ["RetryPolicy", "parse_retry_after"]
