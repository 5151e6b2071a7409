"""One rate budget for the tenant, shared by every instance through storage, and learned from
the service.

Partner Center limits calls per tenant without saying how many; a per-process pace is a guess
times the instance count. So the tenant's calls are counted in one ledger row (partition
`control`, row `budget`) over a sliding window (a minute, in slots of a second): any
window-long stretch holds at most `rate * window / 60` calls. An instance takes calls in
batches with a conditional write (one read and one write for every caller then waiting:
bounded extra latency; within a slot each batch at least as large as the calls already spent,
16 at least while a quarter of the window is free) and spends them at once, so a small batch
of runs goes at its critical path's speed, not the ceiling's average pace. Only the calls the
service let through before (or half the window) are taken at once; beyond that the window
fills at the average pace, so a limit below the ceiling is met gently.

A 429 anywhere lowers the rate for everyone below the calls the window held when it came (and
holds calls until its Retry-After); the rate climbs back while calls succeed, so the real limit
is found, not configured (`budget_window`). `PC_RATE_LIMIT_PER_MINUTE` is the ceiling.

Calls have a priority (`call_priority`): a caller that finds no room marks its priority pressing
in the row, and no lower priority takes a call while the mark is fresh, so polling never starves
the stages that make progress. A poll that cannot have a call within `poll_wait` is given up
(BudgetExhausted: the check is tried again later) rather than holding an invocation.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from shared.fanout import given_up
from shared.ledger import Ledger
from shared.partnercenter.budget_row import BudgetRow
from shared.partnercenter.budget_window import Pace, Window, pressing
from shared.partnercenter.call_priority import Priority, current
from shared.partnercenter.errors import BudgetExhausted

log = logging.getLogger(__name__)
NAP = 1.0  # seconds a waiting caller sleeps before it looks again (whether it is still wanted)


class TenantBudget:
    def __init__(
        self,
        ledger: Ledger,
        ceiling_per_minute: float,
        *,
        window_seconds: float = 60.0,
        batch: int = 4,
        roomy_batch: int = 16,
        floor_per_minute: float = 6.0,
        max_wait_seconds: float | None = None,
        poll_wait_seconds: float | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.pace = Pace(ceiling_per_minute, window_seconds, floor_per_minute)
        self.row = BudgetRow(ledger, ceiling_per_minute)
        self.batch, self.roomy_batch = batch, roomy_batch
        self.max_wait = max_wait_seconds
        self.poll_wait = poll_wait_seconds
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._taking = threading.Lock()
        # Per priority: threads of this instance waiting for a call, and calls in hand (valid
        # in the slot they were taken in).
        self._waiting = dict.fromkeys(Priority, 0)
        self._tokens = dict.fromkeys(Priority, 0)
        self._tokens_slot = dict.fromkeys(Priority, -1)
        # Per priority: until when the row had no room for it, as a thread of this instance
        # last read it (the others waiting need not read it again before then).
        self._off_until = dict.fromkeys(Priority, 0.0)
        # Calls taken but not made before their slot ended: given back with the next take
        # (counted, they would fill the window with calls never sent).
        self._unused: dict[str, int] = {}
        # Per priority: calls spent in the current slot (the slot, the count).
        self._spent: dict[Priority, tuple[int, int]] = dict.fromkeys(Priority, (-1, 0))
        self.waited = 0.0

    @property
    def slot_seconds(self) -> float:
        return self.pace.slot_seconds

    # -- what the client calls --------------------------------------------------------------

    def acquire(self) -> None:
        """Wait for one call's share of the tenant's budget (with `max_wait`, at most that long,
        then BudgetExhausted; a poll with `poll_wait`). A wait longer than the delivery's claim
        is safe: every non-idempotent call is fenced on the claim right before it is sent."""
        level = current()
        bound = self.poll_wait if level.polls else None
        bound = bound if self.max_wait is None else min(bound or self.max_wait, self.max_wait)
        spent = 0.0
        with self._lock:
            self._waiting[level] += 1
        try:
            while True:
                wait = self._one(level)
                if wait <= 0:
                    return
                if bound is not None and spent + wait > bound:
                    raise BudgetExhausted(
                        f"the tenant's Partner Center call budget has no room for {wait:.0f} s"
                    )
                if given_up():  # a read beside this one failed: the stage will not use it
                    raise BudgetExhausted("not waiting for a call whose stage has failed")
                nap = min(wait, NAP)  # then look again (a known wait costs no talk to the row)
                spent += nap
                self.waited += nap
                self._sleep(nap)
        finally:
            with self._lock:
                self._waiting[level] -= 1

    def _one(self, level: Priority) -> float:
        """One call from this instance's tokens of `level`, taking more from the shared row
        when they are spent. One thread at a time talks to the row (racing conditional writes
        within an instance would only fail each other), for every thread waiting, whatever its
        priority: a talk per priority queued each caller behind the others' round trips. A
        thread with a token in hand does not wait for that talk."""
        if self._spend(level):
            return 0.0
        with self._taking:
            if self._spend(level):  # another thread took a batch meanwhile
                return 0.0
            now = self._clock()
            with self._lock:
                if self._off_until[level] > now:  # just read: no room for it until then
                    return self._off_until[level] - now
                wanted = {
                    other: max(self.batch, waiting, self._spent_now(other, now))
                    for other, waiting in self._waiting.items()
                    if waiting > 0 and self._off_until[other] <= now and not self._holds(other, now)
                }
                wanted[level] = max(self.batch, self._waiting[level], self._spent_now(level, now))
            waits = self._take_all(now, wanted)
            with self._lock:
                for other, wait in waits.items():
                    if wait > 0:
                        self._off_until[other] = now + wait
                if waits[level] > 0:
                    return waits[level]
                self._tokens[level] -= 1
                self._count(level, now)
            return 0.0

    def _spent_now(self, level: Priority, now: float) -> int:
        """Calls of `level` this instance spent in the current slot (under the lock). A talk
        takes at least as many again: a burst (twenty stages' reads at once) is served in a
        few talks that double, not one talk per batch, and a slot's tokens left unspent are
        given back with the next talk."""
        slot, spent = self._spent[level]
        return spent if slot == self.pace.slot(now) else 0

    def _count(self, level: Priority, now: float) -> None:
        """One call of `level` spent (under the lock)."""
        slot = self.pace.slot(now)
        before, spent = self._spent[level]
        self._spent[level] = (slot, spent + 1 if before == slot else 1)

    def _holds(self, level: Priority, now: float) -> bool:
        """Tokens of `level` in hand and valid at `now` (under the lock)."""
        return self._tokens[level] > 0 and self._tokens_slot[level] == self.pace.slot(now)

    def _spend(self, level: Priority) -> bool:
        """Spend a token in hand valid now: of `level`, or one a lower priority left (a caller
        may go before those; the row counts calls, not whose), so a burst's submissions need
        no talk of their own. Tokens of a slot gone by are kept to be given back."""
        with self._lock:
            now = self._clock()
            for held in (level, *(p for p in Priority if p > level)):
                if self._tokens[held] <= 0:
                    continue
                if self._holds(held, now):
                    self._tokens[held] -= 1
                    self._count(level, now)
                    return True
                self._expire(held)
            return False

    def _expire(self, level: Priority) -> None:
        """Tokens of `level` of a slot gone by: kept to be given back (under the lock)."""
        if self._tokens[level] > 0:
            slot = str(self._tokens_slot[level])
            self._unused[slot] = self._unused.get(slot, 0) + self._tokens[level]
        self._tokens[level] = 0

    def _take(self, now: float, wanted: int, level: Priority = Priority.FINISH) -> float:
        """Take a batch of `level` from the shared window; the seconds to wait when none."""
        return self._take_all(now, {level: wanted})[level]

    def _take_all(self, now: float, wanted: dict[Priority, int]) -> dict[Priority, float]:
        """Take batches for several priorities in one read and write of the shared window,
        highest first; per priority, 0 (taken) or the seconds to wait."""
        own = True  # start from this instance's own last write, while it is alone on the row
        for _ in range(8):
            stored, etag, unused, _, mine = self._read_giving_back(own)
            own = False  # any look again reads the row
            window = self.pace.rolled(stored, now)
            if window.hold_until > now:
                if mine:
                    continue
                return dict.fromkeys(wanted, window.hold_until - now)
            waits, grants, changed = {}, {}, False
            slot = self.pace.slot(now)
            for level in sorted(wanted):
                above = pressing(window, level)
                if above:  # callers before this one found no room lately: they go first (and
                    # clear their mark once served, so look again within a third of a slot)
                    waits[level] = max(0.05, min(min(above) - now, self.slot_seconds / 3))
                    continue
                free = self.pace.free(window, now)
                if free <= 0:  # room comes back as the oldest slot leaves the window
                    waits[level] = max(0.05, self.pace.frees_at(window, now) - now)
                    mark = window.pressed.get(str(int(level)), 0.0)
                    if level < Priority.LAST and mark < now + self.slot_seconds:
                        window.pressed[str(int(level))] = now + 1.2 * self.slot_seconds
                        changed = True
                    continue
                grants[level] = grant = self.pace.taken(
                    window, free, wanted[level], self.roomy_batch
                )
                self.pace.count(window, now, grant)
                if grant < free:  # served with room to spare: this level no longer presses
                    window.pressed.pop(str(int(level)), None)
                changed = True
            if (changed and not self.row.write(window, etag)) or (mine and not changed):
                continue  # another wrote first; or a wait decided on a copy: read the row
            with self._lock:
                for level, grant in grants.items():
                    if self._tokens_slot[level] != slot:
                        self._expire(level)
                    self._tokens[level] = max(0, self._tokens[level]) + grant
                    self._tokens_slot[level] = slot
                if changed:
                    self._given_back(unused)
            return {**waits, **dict.fromkeys(grants, 0.0)}
        return dict.fromkeys(wanted, 0.05)  # many instances racing: try again in a moment

    def _read_giving_back(
        self, own: bool = False
    ) -> tuple[Window, str | None, dict[str, int], int, bool]:
        """The row (with `own`, this instance's own last write when it is alone on the row:
        budget_row), less the calls this instance took and did not send (so far as their
        slots are still counted); what was given back, to clear once the row is written;
        whether it was the instance's own copy."""
        written = self.row.written() if own else None
        stored, etag = written if written is not None else self.row.read()
        with self._lock:
            unused = dict(self._unused)
        given = 0
        for k, n in unused.items():
            if k in stored.slots:
                given += min(n, stored.slots[k])
                stored.slots[k] = max(0, stored.slots[k] - n)
        return stored, etag, unused, given, written is not None

    def _given_back(self, unused: dict[str, int]) -> None:
        """The unused calls a write just gave back (under the lock)."""
        for k, n in unused.items():
            left = self._unused.get(k, 0) - n
            if left > 0:
                self._unused[k] = left
            else:
                self._unused.pop(k, None)

    def throttled(self, retry_after: float | None) -> None:
        """A 429: lower the tenant's rate for every instance, and hold until Retry-After."""
        with self._lock:  # calls in hand are not sent now: given back with the next write
            for level, n in self._tokens.items():
                if n > 0:
                    slot = str(self._tokens_slot[level])
                    self._unused[slot] = self._unused.get(slot, 0) + n
            self._tokens = dict.fromkeys(Priority, 0)
        for _ in range(8):
            now = self._clock()
            stored, etag, unused, unsent, _ = self._read_giving_back()
            window = self.pace.lowered(self.pace.rolled(stored, now), now, retry_after, unsent)
            if self.row.write(window, etag):
                with self._lock:
                    self._given_back(unused)
                log.warning(
                    "Partner Center throttled us; the tenant's budget is now %.0f calls/min"
                    " (the 429 came with %d calls in the window)",
                    window.rate,
                    window.used(),
                    extra={"action": "budget_lowered", "rate": window.rate, "knee": window.knee},
                )
                return

    def rate(self) -> float:
        return self.row.read()[0].rate

    def holds_polls(self) -> bool:
        """This instance's own view, without a read: the row lately had no room for polls, or
        calls that come before them wait here."""
        with self._lock:
            waiting = any(n for level, n in self._waiting.items() if not level.polls)
            return waiting or self._off_until[Priority.POLL] > self._clock()

    def room_for(self, level: Priority) -> int:
        """Calls free for `level` now: none while callers of a higher priority press (one
        read: the poller asks once a tick, and dispatches no more status checks than this)."""
        now = self._clock()
        window = self.pace.rolled(self.row.read()[0], now)
        if window.hold_until > now or pressing(window, level):
            return 0
        return max(0, self.pace.free(window, now, whole_slot=True))  # checks go in its waves
