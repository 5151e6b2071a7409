"""When to call Partner Center again: the retry policy of one logical call, and how long a
429's Retry-After asks for (the transport in shared.partnercenter.transport applies both)."""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    max_attempts: int = 5
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 30.0  # wait at most this long in-process; longer waits re-enqueue
    max_total_seconds: float = 90.0
    retry_statuses: frozenset[int] = field(default=frozenset({408, 429, 500, 502, 503, 504}))

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff for attempt 1, 2, ..."""
        return random.uniform(0, min(self.max_backoff, self.initial_backoff * 2 ** (attempt - 1)))


MAX_RETRY_AFTER = 3600.0  # seconds (see parse_retry_after)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date; None when absent or unreadable.
    At most MAX_RETRY_AFTER: a 429 holds every instance's calls, and a value of years (or
    `inf`) would hold the tenant for good on one answer; asked again after an hour, a service
    that still means it says so again."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, OverflowError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds):
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER)


def not_ready(method: str, status: int, headers: Mapping[str, str]) -> str | None:
    """Where to ask again when a GET is answered 202 with a Location: its result is not ready
    yet. The Store flavour of this API answers so; whether the ingestion API does is not
    known, so the answer is followed, not read as an empty (malformed) result."""
    location = headers.get("Location")
    return location if method == "GET" and status == 202 and location else None
