"""host.json's functionTimeout, as the Functions host enforces it on an out-of-process (Python)
worker: an invocation still running when its time is up fails ("Timeout value of 00:10:00
exceeded by function ..."), and the worker process is restarted, which ends every invocation
on it (azure-functions-host #8720). The host then fails each one's message as it fails any
invocation's: visible again after visibilityTimeout, or poisoned at maxDequeueCount."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("pcpub.host")


@dataclass(eq=False)
class Invocation:
    function: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)
    abandoned: bool = False  # its worker was restarted: its end must change nothing


def timespan(seconds: float) -> str:
    """Seconds as the host writes a TimeSpan (hh:mm:ss[.fff])."""
    whole, frac = divmod(seconds, 1)
    hours, rest = divmod(int(whole), 3600)
    text = f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    return f"{text}.{round(frac * 1000):03d}" if frac >= 0.0005 else text


class Invocations:
    """The invocations running on an instance's worker, and the watch on their time."""

    def __init__(
        self,
        limit: float | None,
        stop: threading.Event,
        timed_out: Callable[[Invocation], None],
    ) -> None:
        self.limit = limit  # None: unbounded ("-1")
        self._stop = stop
        self._timed_out = timed_out
        self._running: set[Invocation] = set()
        self._lock = threading.Lock()

    def begin(self, function: str) -> Invocation:
        invocation = Invocation(function)
        with self._lock:
            self._running.add(invocation)
        return invocation

    def end(self, invocation: Invocation) -> bool:
        """The invocation returned; False when its worker was restarted meanwhile (what it
        did since is not the host's to send or settle)."""
        with self._lock:
            self._running.discard(invocation)
            return not invocation.abandoned

    def abandon_all(self) -> list[Invocation]:
        """The worker restarts: every invocation on it ends here, as failed."""
        with self._lock:
            ended, self._running = list(self._running), set()
        for invocation in ended:
            invocation.abandoned = True
        return ended

    def watch(self) -> None:
        """Until the host stops: fail the first invocation past its time (the restart that
        follows ends the others)."""
        if self.limit is None:
            return
        while not self._stop.wait(min(1.0, self.limit / 4)):
            now = time.monotonic()
            with self._lock:
                late = [i for i in self._running if now - i.started > self.limit]
            if late:
                self._timed_out(min(late, key=lambda i: i.started))
