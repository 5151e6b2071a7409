"""The status checks an instance's timer sent lately (see shared.pipeline.checks)."""

from __future__ import annotations

import threading
from datetime import datetime


class Dispatched:
    """The checks this instance's ticks sent lately, so a check still queued or running is
    not sent again on the next tick; one that was lost (its instance died) is sent again once
    `lease_seconds` have passed. The timer runs on one instance at a time, so this memory is
    the timer's; a timer that moves costs at most one duplicate check per run."""

    def __init__(self, lease_seconds: float = 120.0) -> None:
        self.lease_seconds = lease_seconds
        self._sent: dict[str, tuple[str, datetime]] = {}
        self._lock = threading.Lock()

    def take(self, run_id: str, check_at: str, now: datetime) -> bool:
        """True when the check of `run_id` due at `check_at` should be sent now."""
        with self._lock:
            self._sent = {
                k: v
                for k, v in self._sent.items()
                if (now - v[1]).total_seconds() < self.lease_seconds
            }
            if self._sent.get(run_id, ("", now))[0] == check_at:
                return False
            self._sent[run_id] = (check_at, now)
            return True
