"""Timer triggers run on one instance at a time, as the Functions host does it: the instance
that holds a blob lease on `azure-webjobs-hosts/locks/<host id>/<function>.Listener` fires the
timer; the others stand by and take over within one lease period when it stops renewing (its
process died). The lease is renewed in the background while it is held, so an invocation
longer than the lease never overlaps one on another instance.
"""

from __future__ import annotations

import contextlib
import logging
import threading

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobClient, BlobLeaseClient, BlobServiceClient

log = logging.getLogger("pcpub.host")
CONTAINER = "azure-webjobs-hosts"
LEASE_SECONDS = 15  # the Functions host's singleton lease period


class ListenerLease:
    def __init__(
        self, connection_string: str, host_id: str, function: str, stop: threading.Event
    ) -> None:
        service = BlobServiceClient.from_connection_string(connection_string)
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
        """True when this instance holds the lease (taking it if it is free)."""
        with self._lock:
            if self._lease is not None:
                return True
            try:
                self._lease = self._blob.acquire_lease(lease_duration=LEASE_SECONDS)
            except (HttpResponseError, ResourceNotFoundError):
                return False  # another instance holds it
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
        while not self._stop.wait(LEASE_SECONDS / 3):
            with self._lock:
                lease = self._lease
            if lease is None:
                return
            try:
                lease.renew()
            except HttpResponseError:  # lost it (storage blinked past the lease period)
                log.warning("lost the listener lease for %s", self._function)
                with self._lock:
                    self._lease = None
                return
        self.release()

    def release(self) -> None:
        with self._lock:
            lease, self._lease = self._lease, None
        if lease is not None:
            with contextlib.suppress(HttpResponseError):
                lease.release()
