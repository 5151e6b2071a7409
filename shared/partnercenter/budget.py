"""One rate budget for the tenant, shared by every instance through storage, and learned from
the service.

Partner Center limits calls per tenant and does not say how many; a per-process pace is a guess
times the instance count. Instead the tenant's rate lives in one ledger row (partition
`control`, row `budget`): time is cut into short windows, each allowing `rate * window / 60`
calls; an instance takes a few calls at a time from the current window with a conditional
write (one read and one write per `batch` calls: bounded extra latency) and spends them at an
even pace. A 429 anywhere halves the rate for everyone (and holds calls until its Retry-After);
each window that passes without one adds back a twentieth of the ceiling, so the real limit is
found rather than configured. `PC_RATE_LIMIT_PER_MINUTE` is the ceiling.

Status polls ask with low priority: they only get calls while the window is less than
`poll_share` used, so with many runs waiting, polling never starves the stages that make
progress.
"""

from __future__ import annotations

import contextvars
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import UpdateMode

from shared.ledger import Ledger
from shared.partnercenter.errors import BudgetExhausted

log = logging.getLogger(__name__)
CONTROL, ROW = "control", "budget"
_low = contextvars.ContextVar("pc_budget_low_priority", default=False)


@contextmanager
def low_priority() -> Iterator[None]:
    """Calls made inside (status polls) take from the budget last."""
    token = _low.set(True)
    try:
        yield
    finally:
        _low.reset(token)


@dataclass
class Window:
    start: float  # wall-clock seconds
    rate: float  # calls per minute for the tenant, now
    used: int = 0
    throttled: bool = False  # a 429 was seen in this window
    hold_until: float = 0.0  # nobody calls before this (a 429's Retry-After)


class TenantBudget:
    def __init__(
        self,
        ledger: Ledger,
        ceiling_per_minute: float,
        *,
        window_seconds: float = 5.0,
        batch: int = 4,
        poll_share: float = 0.7,
        floor_per_minute: float = 6.0,
        max_wait_seconds: float | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._ledger = ledger
        self.ceiling = ceiling_per_minute
        self.window_seconds = window_seconds
        self.batch = batch
        self.poll_share = poll_share
        self.floor = floor_per_minute
        self.max_wait = max_wait_seconds
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = 0
        self._tokens_window = 0.0
        self._next = 0.0  # the local pace within a grant
        self.waited = 0.0

    # -- the shared row ---------------------------------------------------------------------

    def _read(self) -> tuple[Window, str | None]:
        try:
            row = self._ledger.table().get_entity(CONTROL, ROW)
        except ResourceNotFoundError:
            return Window(start=0.0, rate=self.ceiling), None
        return Window(**json.loads(row["data"])), row.metadata.get("etag")

    def _write(self, window: Window, etag: str | None) -> bool:
        entity = {"PartitionKey": CONTROL, "RowKey": ROW, "data": json.dumps(asdict(window))}
        try:
            if etag is None:
                self._ledger.table().create_entity(entity)
            else:
                self._ledger.table().update_entity(
                    entity,
                    mode=UpdateMode.REPLACE,
                    etag=etag,
                    match_condition=MatchConditions.IfNotModified,
                )
        except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
            return False
        except HttpResponseError as exc:
            if exc.status_code == 412:
                return False
            raise
        return True

    def _rolled(self, window: Window, now: float) -> Window:
        """The window for `now`: the same one, or a fresh one whose rate climbed back a step
        if the last passed without a 429."""
        if now - window.start < self.window_seconds:
            return window
        rate = window.rate
        if not window.throttled:
            rate = min(self.ceiling, rate + self.ceiling / 20)
        start = now - (now - window.start) % self.window_seconds if window.start else now
        return Window(start=start, rate=rate, hold_until=window.hold_until)

    # -- what the client calls --------------------------------------------------------------

    def acquire(self) -> None:
        """Wait for one call's share of the tenant's budget (with `max_wait`, at most that long,
        then BudgetExhausted). A wait longer than the delivery's claim is safe: every
        non-idempotent call is fenced on the claim right before it is sent (client.fenced)."""
        spent = 0.0
        while True:
            with self._lock:
                now = self._clock()
                if self._tokens > 0 and now - self._tokens_window < self.window_seconds:
                    self._tokens -= 1
                    slot = max(self._next, now)
                    self._next = slot + 60.0 / max(self.ceiling, 1.0)
                    delay = slot - now
                    break
            wait = self._take(now)
            if wait > 0:
                if self.max_wait is not None and spent + wait > self.max_wait:
                    raise BudgetExhausted(
                        f"the tenant's Partner Center call budget has no room for {wait:.0f} s"
                    )
                spent += wait
                self.waited += wait
                self._sleep(wait)
        if delay > 0:
            self.waited += delay
            self._sleep(delay)

    def _take(self, now: float) -> float:
        """Take a batch from the shared window; the seconds to wait when there is none."""
        for _ in range(8):
            stored, etag = self._read()
            window = self._rolled(stored, now)
            if window.hold_until > now:
                return window.hold_until - now
            allowance = int(window.rate * self.window_seconds / 60) or 1
            limit = allowance * (self.poll_share if _low.get() else 1.0)
            free = int(limit) - window.used
            if free <= 0:
                return max(0.05, window.start + self.window_seconds - now)
            grant = min(self.batch, free)
            window.used += grant
            if self._write(window, etag):
                with self._lock:
                    self._tokens, self._tokens_window = grant, window.start
                return 0.0
        return 0.05  # many instances racing: try again in a moment

    def throttled(self, retry_after: float | None) -> None:
        """A 429: halve the tenant's rate for every instance, and hold until Retry-After."""
        with self._lock:
            self._tokens = 0
        for _ in range(8):
            now = self._clock()
            stored, etag = self._read()
            window = self._rolled(stored, now)
            if not window.throttled:
                window.rate = max(self.floor, window.rate / 2)
                window.throttled = True
            if retry_after:
                window.hold_until = max(window.hold_until, now + retry_after)
            if self._write(window, etag):
                log.warning(
                    "Partner Center throttled us; the tenant's budget is now %.0f calls/min",
                    window.rate,
                    extra={"action": "budget_lowered", "rate": window.rate},
                )
                return

    def rate(self) -> float:
        return self._read()[0].rate
