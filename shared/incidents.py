"""Service incidents hold work, they do not fail it: one circuit breaker for the tenant.

When calls of several runs (of different offers) fail the same unexpected way within a short
window — a 4xx on a read the request cannot have caused (the 2026 `x-ms-publisherId` wave), a
401 wave for fresh tokens, 5xx or no answer beyond the retry budget — the breaker opens.
While it is open every run holds at its next Partner Center call, with the incident's message
as its reason; one delivery at a time is let through as a probe, at a growing interval; when a
probe's calls answer normally the breaker closes and the held runs go on by themselves.

The state lives in the ledger's table (partition `control`), written with ETags, so every
instance sees the same breaker and only one of them probes at a time.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from shared.ledger import Ledger, parse_stamp, stamp
from shared.partnercenter.errors import (
    BadRequest,
    Forbidden,
    PartnerCenterError,
    ServerError,
    TransportError,
    Unauthorized,
)

log = logging.getLogger(__name__)
CONTROL = "control"
_VARYING = re.compile(r"[0-9a-f-]{8,}|\d+")  # ids and numbers differ between calls
BREAKER = "breaker"


@dataclass(kw_only=True)
class BreakerPolicy:
    window_seconds: float = 120.0  # failures this close together count as one wave
    threshold: int = 3  # distinct offers failing the same way open the breaker
    first_probe_seconds: float = 10.0
    max_probe_seconds: float = 600.0


@dataclass(kw_only=True)
class Breaker:
    state: str = "closed"  # closed | open
    incident: str = ""  # id, for events and status
    message: str = ""
    signature: str = ""
    opened_at: str = ""
    next_probe_at: str = ""
    probe_seconds: float = 0.0
    recent: list[list[str]] = field(default_factory=list)  # [at, offer, signature]
    etag: str | None = None

    @property
    def open(self) -> bool:
        return self.state == "open"


def signature(exc: PartnerCenterError) -> str | None:
    """What an error says about the service rather than the request, as a key that groups
    the same failure across runs; None for errors a request can cause."""
    if isinstance(exc, (Unauthorized, Forbidden)):
        return f"{exc.status}"
    if isinstance(exc, BadRequest) and exc.method == "GET":  # a read cannot be malformed
        return "400 " + _VARYING.sub("#", exc.service_message)[:120]
    if isinstance(exc, ServerError):
        return "5xx"
    if isinstance(exc, TransportError):
        return "unreachable"
    return None


class Incidents:
    """The breaker, read and written through the ledger's table."""

    def __init__(
        self, ledger: Ledger, policy: BreakerPolicy | None = None, *, glance_seconds: float = 0.0
    ) -> None:
        self._ledger = ledger
        self.policy = policy or BreakerPolicy()
        self.glance_seconds = glance_seconds
        self._closed_seen = 0.0  # when this instance last read the breaker closed

    def glance(self) -> Breaker:
        """The breaker as every stage looks at it first: a closed breaker read less than
        `glance_seconds` ago is taken as still closed (one read a stage less; an incident
        opened meanwhile elsewhere is seen that much later, and a call made meanwhile only
        counts towards it). An open one is always read afresh."""
        if time.monotonic() - self._closed_seen < self.glance_seconds:
            return Breaker()
        breaker = self.read()
        if not breaker.open:
            self._closed_seen = time.monotonic()
        return breaker

    def read(self) -> Breaker:
        try:
            row = self._ledger.table().get_entity(CONTROL, BREAKER)
        except ResourceNotFoundError:
            return Breaker()
        data = json.loads(row.get("data") or "{}")
        return Breaker(**data, etag=row.metadata.get("etag"))

    def _write(self, breaker: Breaker) -> bool:
        """Conditional write; False when another instance changed it first."""
        self._closed_seen = 0.0
        data = {k: v for k, v in asdict(breaker).items() if k != "etag"}
        entity = {"PartitionKey": CONTROL, "RowKey": BREAKER, "data": json.dumps(data)}
        table = self._ledger.table()
        try:
            if breaker.etag is None:
                table.create_entity(entity)
            else:
                table.update_entity(
                    entity,
                    mode=UpdateMode.REPLACE,
                    etag=breaker.etag,
                    match_condition=MatchConditions.IfNotModified,
                )
        except (ResourceExistsError, HttpResponseError):
            return False
        return True

    def observe(self, now: datetime, offer: str, exc: PartnerCenterError) -> Breaker | None:
        """Count a failure; returns the breaker when this failure opened it."""
        sig = signature(exc)
        if sig is None:
            return None
        for _ in range(3):
            breaker = self.read()
            if breaker.open:
                return None
            since = stamp(now - timedelta(seconds=self.policy.window_seconds))
            recent = [r for r in breaker.recent if r[0] >= since][-50:]
            recent.append([stamp(now), offer, sig])
            offers = {r[1] for r in recent if r[2] == sig}
            if len(offers) >= self.policy.threshold:
                opened = Breaker(
                    state="open",
                    incident=f"incident-{stamp(now)}",
                    message=f"{exc}"[:500],
                    signature=sig,
                    opened_at=stamp(now),
                    probe_seconds=self.policy.first_probe_seconds,
                    next_probe_at=stamp(now + timedelta(seconds=self.policy.first_probe_seconds)),
                    etag=breaker.etag,
                )
                if self._write(opened):
                    log.error(
                        "incident opened: %s",
                        opened.message,
                        extra={"action": "incident_opened", "incident": opened.incident},
                    )
                    return opened
                continue
            breaker.recent = recent
            if self._write(breaker):
                return None
        return None

    def hold(self, now: datetime, breaker: Breaker | None = None) -> tuple[Breaker, float] | None:
        """While the breaker is open: (breaker, seconds to hold) for a delivery that must
        wait, or None for the one delivery let through as the probe (claimed here).
        `breaker`: the state just read, when the caller has it."""
        breaker = breaker or self.read()
        if not breaker.open:
            return None
        due = parse_stamp(breaker.next_probe_at)
        if now < due:
            return breaker, (due - now).total_seconds() + 1
        grown = min(self.policy.max_probe_seconds, breaker.probe_seconds * 2)
        claimed = Breaker(
            **{
                **asdict(breaker),
                "probe_seconds": grown,
                "next_probe_at": stamp(now + timedelta(seconds=grown)),
            },
        )
        if self._write(claimed):
            log.warning(
                "probing Partner Center during %s",
                breaker.incident,
                extra={"action": "incident_probe", "incident": breaker.incident},
            )
            return None  # this delivery is the probe
        return breaker, grown

    def close(self, now: datetime) -> Breaker | None:
        """The service answered normally: close the breaker; returns it when this closed it."""
        breaker = self.read()
        if not breaker.open:
            return None
        closed = Breaker(etag=breaker.etag)
        if not self._write(closed):
            return None
        log.warning(
            "incident closed: %s (open since %s)",
            breaker.incident,
            breaker.opened_at,
            extra={"action": "incident_closed", "incident": breaker.incident},
        )
        return breaker

    def clear(self) -> None:
        with contextlib.suppress(ResourceNotFoundError):
            self._ledger.table().delete_entity(CONTROL, BREAKER)

    @staticmethod
    def describe(breaker: Breaker) -> dict[str, Any]:
        return {
            "incident": breaker.incident,
            "since": breaker.opened_at,
            "message": breaker.message,
            "nextProbeAt": breaker.next_probe_at,
        }
