"""A client-side pace for Partner Center calls: the service limits each tenant per minute, so
calls are spaced to stay under it instead of bursting into 429s. This one is per process (for
tools and tests); the function app shares one adaptive budget among its instances
(shared.partnercenter.budget). Both have the `Pace` shape the client uses."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol


class Pace(Protocol):
    def acquire(self) -> None: ...
    def throttled(self, retry_after: float | None) -> None: ...


class RateLimiter:
    """Spaces calls evenly at `per_minute`; `acquire` sleeps until the caller's slot."""

    def __init__(
        self,
        per_minute: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be positive")
        self.interval = 60.0 / per_minute
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()
        self.waited = 0.0

    def acquire(self) -> None:
        with self._lock:
            now = self._clock()
            slot = max(self._next, now)
            self._next = slot + self.interval
        delay = slot - now
        if delay > 0:
            self.waited += delay
            self._sleep(delay)

    def throttled(self, retry_after: float | None) -> None:
        """A fixed pace does not learn."""
