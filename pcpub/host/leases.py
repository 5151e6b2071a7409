"""Message leases kept while their invocations run, as the queue extension keeps them: a
message is received out of sight for the lease (10 minutes in Azure) and its visibility is
renewed at half the lease until its invocation ends, so a message waiting for a worker thread
or a slow invocation is not delivered twice, and only a dead instance's messages come back
when their lease ends.

Storage that does not answer a renewal (an outage, a 5xx) is tried again a quarter of the
lease later, as the extension retries a server-side error; only storage's own word that the
message is no longer ours (gone, or its pop receipt taken by another delivery) ends the hold.
Each renewal is one bounded call (no SDK retry, short timeouts): the renewals of every held
message go one after another, and one caught in the SDK's 15 s backoff would hold up the rest
past their leases."""

from __future__ import annotations

import logging
import threading
import time

from azure.storage.queue import QueueClient, QueueMessage

from pcpub.host.storage_calls import CALL_SECONDS, unanswered

log = logging.getLogger("pcpub.host")


class _Held:
    __slots__ = ("client", "connection", "due", "lock", "message", "settled")

    def __init__(
        self, client: QueueClient, connection: str, message: QueueMessage, due: float
    ) -> None:
        self.client = client
        self.connection = connection  # the trigger's (its poison queue is on it)
        self.message = message
        self.due = due
        self.lock = threading.Lock()  # a renewal and the message's settling, one at a time
        self.settled = False


class Leases:
    """The messages an instance holds, each renewed until it is settled."""

    def __init__(self, seconds: float, stop: threading.Event) -> None:
        self.seconds = seconds
        self._stop = stop
        self._held: dict[str, _Held] = {}
        self._lock = threading.Lock()

    def hold(self, client: QueueClient, connection: str, message: QueueMessage) -> None:
        """Keep a message just received out of sight until `settle`."""
        held = _Held(client, connection, message, time.monotonic() + self.seconds / 2)
        with self._lock:
            self._held[message.id] = held

    def holds(self, message: QueueMessage) -> bool:
        with self._lock:
            return message.id in self._held

    def settle(self, message: QueueMessage) -> bool:
        """Renew no more: the message is about to be deleted, retried or poisoned, with the
        pop receipt the last renewal left on it. False when it is no longer this
        invocation's to settle (a worker restart failed it already)."""
        with self._lock:
            held = self._held.pop(message.id, None)
        if held is None:
            return False
        with held.lock:
            held.settled = True
        return True

    def settle_all(self) -> list[tuple[QueueClient, str, QueueMessage]]:
        """Every message held, renewed no more (the worker restarts: each is failed)."""
        with self._lock:
            held, self._held = list(self._held.values()), {}
        for one in held:
            with one.lock:
                one.settled = True
        return [(one.client, one.connection, one.message) for one in held]

    def renew(self) -> None:
        """Until the host stops: renew each held message's lease at half its length."""
        while not self._stop.wait(min(1.0, self.seconds / 4)):
            now = time.monotonic()
            with self._lock:
                due = [h for h in self._held.values() if h.due <= now]
            for held in due:
                self._renew(held, now)

    def _renew(self, held: _Held, now: float) -> None:
        with held.lock:
            if held.settled:
                return
            try:
                renewed = held.client.update_message(
                    held.message.id,
                    held.message.pop_receipt,
                    visibility_timeout=int(self.seconds),
                    retry_total=0,
                    connection_timeout=CALL_SECONDS,
                    read_timeout=CALL_SECONDS,
                )
            except Exception as exc:
                if unanswered(exc):
                    log.warning(
                        "could not renew the lease of message %s (%s); trying again",
                        held.message.id,
                        type(exc).__name__,
                    )
                    held.due = now + self.seconds / 4
                    return
                # Gone, or its pop receipt another delivery's: the message is someone else's.
                log.warning("could not renew the lease of message %s", held.message.id)
                held.settled = True
                with self._lock:
                    self._held.pop(held.message.id, None)
                return
            held.message.pop_receipt = renewed.pop_receipt
            held.due = now + self.seconds / 2
