"""Timer triggers run on one instance at a time, as the Functions host does it: the instance
that holds a blob lease on `azure-webjobs-hosts/locks/<host id>/<function>.Listener` fires the
timer; the others stand by and take over within one lease period when it stops renewing (its
process died). The lease is renewed in the background while it is held, so an invocation
longer than the lease never overlaps one on another instance.

Storage that does not answer is not an error of the host: a renewal is tried again at the
next third of the period until the lease would have lapsed, and a release that cannot reach
storage is left to lapse. Each call is bounded (one retry after 1 s, for a keep-alive
connection Azurite closed as it was reused, and short timeouts; the SDK's own first backoff is
15 s): the renewer is the retry, and a stopping instance never waits a minute on a lease it is
giving up anyway.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError
from azure.storage.blob import BlobClient, BlobLeaseClient, BlobServiceClient, LinearRetry

from pcpub.host.storage_calls import CALL_SECONDS, unanswered

log = logging.getLogger("pcpub.host")
CONTAINER = "azure-webjobs-hosts"
LEASE_SECONDS = 15  # the Functions host's singleton lease period


class ListenerLease:
    def __init__(
        self, connection_string: str, host_id: str, function: str, stop: threading.Event
    ) -> None:
        service = BlobServiceClient.from_connection_string(
            connection_string,
            retry_policy=LinearRetry(backoff=1, retry_total=1, random_jitter_range=0),
            connection_timeout=CALL_SECONDS,
            read_timeout=CALL_SECONDS,
        )
        with contextlib.suppress(ResourceExistsError):
            service.create_container(CONTAINER)
        self._blob: BlobClient = service.get_blob_client(
            CONTAINER, f"locks/{host_id}/{function}.Listener"
        )
        with contextlib.suppress(ResourceExistsError, HttpResponseError):
            self._blob.upload_blob(b"", overwrite=False)
        self._function = function
        self._stop = stop
        self._lease: BlobLeaseClient | None = None
        self._lock = threading.Lock()
        self._renewer: threading.Thread | None = None

    def hold(self) -> bool:
        """True when this instance holds the lease (taking it if it is free); False while
        another instance holds it or storage does not answer."""
        with self._lock:
            if self._lease is not None:
                return True
            try:
                self._lease = self._blob.acquire_lease(lease_duration=LEASE_SECONDS)
            except AzureError:  # another instance holds it, or storage is away
                return False
        log.info(
            "took the listener lease for %s",
            self._function,
            extra={"action": "timer_lease_taken", "function": self._function},
        )
        self._renewer = threading.Thread(
            target=self._renew, name=f"lease-{self._function}", daemon=True
        )
        self._renewer.start()
        return True

    def _renew(self) -> None:
        period = LEASE_SECONDS / 3
        lapses = time.monotonic() + LEASE_SECONDS
        while not self._stop.wait(period):
            with self._lock:
                lease = self._lease
            if lease is None:
                return
            try:
                lease.renew()
                lapses = time.monotonic() + LEASE_SECONDS
                continue
            except AzureError as exc:
                # A 409/412: another instance took it. No answer: the lease may still be ours.
                lost = not unanswered(exc)
            except Exception:  # whatever it was, this instance no longer knows it holds it
                log.exception("renewing the listener lease for %s failed", self._function)
                lost = True
            # Given up before it lapses, not after: another instance may take it at once.
            if lost or time.monotonic() + period >= lapses:
                self._lost(lease)
                return
        self.release()

    def _lost(self, lease: BlobLeaseClient) -> None:
        log.warning(
            "lost the listener lease for %s",
            self._function,
            extra={"action": "timer_lease_lost", "function": self._function},
        )
        with self._lock:
            if self._lease is lease:
                self._lease = None

    def release(self) -> None:
        with self._lock:
            lease, self._lease = self._lease, None
        if lease is None:
            return
        try:
            lease.release()
        except AzureError:  # storage away or the lease gone: it lapses within its period
            log.warning(
                "could not release the listener lease for %s; it lapses within %d s",
                self._function,
                LEASE_SECONDS,
                extra={"action": "timer_lease_unreleased", "function": self._function},
            )

    def join(self, timeout: float) -> None:
        """Wait for the renewer to release the lease once the instance stops."""
        if self._renewer is not None:
            self._renewer.join(timeout)
