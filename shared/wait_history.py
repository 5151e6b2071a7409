"""How long Partner Center's waits took lately, so a run polls when its answer is due.

Certification and publishing take hours to days, and a poll early in a wait almost never finds
it over: the plain schedule (`StageDeps.next_poll`: a tenth of the time waited, between the
base and the longest interval) spends most of its polls where nothing happens. Each wait a run
saw end (package processing, certification for preview, publishing live) is recorded per
offer type, and once a kind has `MIN_SEEN` of them, a new wait of that kind polls at the
longest interval until it nears the shortest of the usual ones, and from there on as before.
Each wait also keeps when its last check still found it going, so its end is known to lie
between two checks: a new wait aims a check at the middle of that interval and one at its end
(`aims`), and each run that finds its answer at the middle halves the interval the next run
aims into. So polls go where answers come, and a wait that ends unusually early is still seen
within the longest interval.

Kept in the ledger table (partition `waits`): `KEEP` rows a kind, a run's wait written over the
slot its id hashes to (an upsert: instances never contend, and the rows never grow with
history). Read at most once a minute a kind by each instance.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import NamedTuple

from azure.data.tables import TableClient, UpdateMode

from shared.runs import now_utc, parse_stamp, stamp

log = logging.getLogger(__name__)
PARTITION = "waits"
KEEP = 32  # rows a kind: the waits of that many runs, more or less (slots by run id)
RECENT = 16  # the newest of them shape the schedule
MIN_SEEN = 5  # fewer waits of a kind than this say nothing yet
MAX_AGE = timedelta(days=90)  # a wait older than this says nothing of today's service
AIM = 0.8  # the first poll is aimed this far into the shortest usual wait (so it still learns)

Span = tuple[float, float]  # seconds: the shortest and the longest usual wait of a kind
# A wait seen end: when its last check still found it going (None: not recorded), when over.
Seen = tuple[float | None, float]


class Learned(NamedTuple):
    span: Span
    aims: tuple[float, ...]  # seconds into a wait where answers of its kind came (`aims`)


def _rank(ordered: list[float], share: float) -> float:
    """The nearest-rank percentile of sorted values."""
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def usual(seconds: list[float]) -> Span | None:
    """The 10th and 90th percentile (nearest rank) of waits, or None when too few."""
    if len(seconds) < MIN_SEEN:
        return None
    ordered = sorted(seconds)
    return _rank(ordered, 0.1), _rank(ordered, 0.9)


def aims(seen: Sequence[Seen]) -> tuple[float, ...]:
    """Where to aim a new wait's checks: the middles of the intervals the recent waits' ends
    were found in (at their 10th, 50th and 90th percentile), and those intervals' ends (50th,
    90th). A run whose answer is there at the middle leaves its successor half the interval."""
    if len(seen) < MIN_SEEN:
        return ()
    ends = sorted(over for _, over in seen)
    middles = sorted(over if going is None else (going + over) / 2 for going, over in seen)
    picked = {_rank(middles, q) for q in (0.1, 0.5, 0.9)} | {_rank(ends, q) for q in (0.5, 0.9)}
    return tuple(sorted(picked))


def toward_aim(waited: float, delay: float, aimed: tuple[float, ...], gap: float) -> float:
    """The next check's delay: `delay`, or sooner where the first aim at least `gap` ahead
    of `waited` comes before it (checks never closer together than `gap`)."""
    for aim in aimed:
        if aim - waited >= gap:
            return min(delay, aim - waited)
    return delay


def learned_delay(waited: float, interval: float, span: Span | None, cap: float) -> float:
    """The next poll's delay for a run that has waited `waited` seconds, whose plain schedule
    says `interval`: while the plain schedule's next poll would still come before the
    shortest usual wait of its kind (aimed short of it), the poll moves up to that point, at
    most the longest interval (`cap`) away; from there on, the plain interval."""
    if span is None:
        return interval
    early = AIM * span[0]
    if waited + interval >= early:
        return interval
    return min(max(interval, early - waited), max(cap, interval))


class WaitHistory:
    def __init__(
        self,
        table: Callable[[], TableClient],
        *,
        ttl_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._table = table
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()  # one read of the table at a time; the others wait
        self._read: dict[str, tuple[float, Learned | None]] = {}

    def observe(self, kind: str, run_id: str, seconds: float, since: float | None = None) -> None:
        """Record that a wait of `kind` was seen over after `seconds` for `run_id`, its last
        check before that (`since` seconds in) having found it still going."""
        slot = zlib.crc32(run_id.encode()) % KEEP
        row = {
            "PartitionKey": PARTITION,
            "RowKey": f"{kind}:{slot:02d}",
            "seconds": float(seconds),
            "at": stamp(now_utc()),
        }
        if since is not None:
            row["since"] = float(min(since, seconds))
        self._table().upsert_entity(row, mode=UpdateMode.REPLACE)

    def span(self, kind: str) -> Span | None:
        """The usual span of waits of `kind`, or None."""
        learned = self.expected(kind)
        return learned.span if learned is not None else None

    def expected(self, kind: str) -> Learned | None:
        """What the history says of waits of `kind` (read again once it is `ttl` old, by one
        caller while the others wait for it), or None. Storage out of reach keeps what was
        known (a poll is never failed for want of its history)."""
        with self._lock:
            now = self._clock()
            cached = self._read.get(kind)
            if cached is not None and now - cached[0] < self._ttl:
                return cached[1]
            try:
                seen = self._recent(kind)
                span = usual([over for _, over in seen])
                learned = Learned(span, aims(seen)) if span is not None else None
            except Exception:
                log.warning("could not read the waits' history", extra={"action": "waits_unread"})
                learned = cached[1] if cached is not None else None
            self._read[kind] = (now, learned)
            return learned

    def _recent(self, kind: str) -> list[Seen]:
        rows = self._table().query_entities(
            "PartitionKey eq @p and RowKey gt @lo and RowKey lt @hi",
            parameters={"p": PARTITION, "lo": f"{kind}:", "hi": f"{kind};"},
            select=["seconds", "since", "at"],
        )
        oldest = now_utc() - MAX_AGE
        seen = [
            (str(row["at"]), _since(row.get("since")), float(row["seconds"]))
            for row in rows
            if row.get("at") and parse_stamp(str(row["at"])) >= oldest
        ]
        return [
            (going, over)
            for _, going, over in sorted(seen, key=lambda r: r[0], reverse=True)[:RECENT]
        ]


def _since(value: object) -> float | None:
    """A row's `since`: rows written before it was kept have none."""
    return float(value) if isinstance(value, int | float) else None


def kind_of(offer_type: str, stage: str) -> str:
    """What a wait is, for its history: the offer type's (its product's resourceType) stage.
    The type is Partner Center's word: kept to characters a table key takes, and short."""
    named = re.sub(r"[^A-Za-z0-9_-]", "_", offer_type)[:80] or "unknown"
    return f"{named}.{stage}"
