"""An operator's pause: everything, or one offer, holds at its next Partner Center call until
resumed. Pauses are rows in the ledger's `control` partition beside the incident breaker, so
every instance sees them and `pcpub status` shows them; a held run waits at the stage it was
about to run, with the pause's reason, and goes on from there when the pause is lifted.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from azure.core.exceptions import ResourceNotFoundError

from shared.incidents import CONTROL
from shared.ledger import Ledger, Run
from shared.tables import capped

PREFIX = "pause|"
EVERYTHING = "*"


@dataclass(frozen=True)
class Pause:
    scope: str  # EVERYTHING, or an offer id / product id
    by: str
    reason: str
    at: str

    def covers(self, run: Run) -> bool:
        if self.scope == EVERYTHING:
            return True
        scope = self.scope.lower()
        return scope in (
            (run.offer_external_id or "").lower(),
            (run.product_id or "").lower(),
            run.offer.split(":", 1)[-1].lower(),
        )

    def describe(self) -> str:
        what = "everything" if self.scope == EVERYTHING else f"offer {self.scope}"
        return f"{what} paused by {self.by} since {self.at}: {self.reason}"


class Pauses:
    """Reads are cached for a few seconds per process: a pause takes hold at the next call
    after that, on every instance."""

    def __init__(self, ledger: Ledger, cache_seconds: float = 2.0) -> None:
        self._ledger = ledger
        self._cache_seconds = cache_seconds
        self._cached: tuple[float, list[Pause]] | None = None
        self._lock = threading.Lock()

    def set(self, scope: str, by: str, reason: str, at: str) -> Pause:
        pause = Pause(scope or EVERYTHING, capped(by), capped(reason), at)
        self._ledger.table().upsert_entity(
            {
                "PartitionKey": CONTROL,
                "RowKey": PREFIX + pause.scope.lower(),
                "scope": pause.scope,
                "by": pause.by,
                "reason": pause.reason,
                "at": at,
            }
        )
        self._cached = None
        return pause

    def clear(self, scope: str) -> bool:
        try:
            self._ledger.table().delete_entity(CONTROL, PREFIX + (scope or EVERYTHING).lower())
        except ResourceNotFoundError:
            return False
        self._cached = None
        return True

    def active(self, *, fresh: bool = False) -> list[Pause]:
        with self._lock:
            now = time.monotonic()
            if not fresh and self._cached and now - self._cached[0] < self._cache_seconds:
                return self._cached[1]
            rows = self._ledger.table().query_entities(
                "PartitionKey eq @p and RowKey ge @lo and RowKey lt @hi",
                parameters={"p": CONTROL, "lo": PREFIX, "hi": PREFIX[:-1] + "}"},
            )
            pauses = [
                Pause(str(r["scope"]), str(r.get("by", "")), str(r.get("reason", "")), str(r["at"]))
                for r in rows
            ]
            self._cached = (now, pauses)
            return pauses

    def holding(self, run: Run) -> Pause | None:
        return next((p for p in self.active() if p.covers(run)), None)
