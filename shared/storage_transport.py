"""The storage SDKs' HTTP transport, straight onto urllib3's connection pool.

The queue and table SDKs send every request through `requests` by default. On a busy host
that layer (preparing, merging session settings, cookies, hooks, the adapter) took a fifth of
the process's time, more than the connection pool and the socket under it, and the stages'
queue hops and ledger writes wait on that time in a burst. This transport hands azure-core's
request to urllib3 (the pool `requests` itself uses) and gives back azure-core's response,
read whole, even when the SDK asks for a stream (a table transaction does): tables and queues
answer small bodies. Errors map to azure-core's as the requests
transport maps them, so the SDKs' retry policies see the same exceptions.

Blobs (downloads of any size) and proxies stay with the SDK's own transport (`shared.storage`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import certifi
import urllib3
from azure.core.exceptions import (
    IncompleteReadError,
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from azure.core.pipeline.transport import HttpTransport
from azure.core.rest import HttpRequest, HttpResponse
from azure.core.rest._http_response_impl import HttpResponseImpl
from azure.core.utils import case_insensitive_dict
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

# The storage SDK's own transport's timeouts (azure.storage.queue's CONNECTION_TIMEOUT and
# READ_TIMEOUT), for tables too: azure-core's 300 s each, which a transport of our own would
# otherwise get, let a request left unanswered (a half-open connection after a partition)
# hold a stage five minutes an attempt, and the SDKs try three times or more.
CONNECTION_TIMEOUT = 20.0
READ_TIMEOUT = 60.0


class _Answer(HttpResponseImpl):
    """azure-core's response over a urllib3 response already read whole."""

    def __init__(self, request: HttpRequest, raw: urllib3.BaseHTTPResponse) -> None:
        headers = case_insensitive_dict(raw.headers.items())
        super().__init__(
            request=request,
            internal_response=raw,
            status_code=raw.status,
            reason=raw.reason or "",
            headers=headers,
            content_type=headers.get("content-type"),
            stream_download_generator=_no_stream,
        )
        self._content = raw.data


def _no_stream(*_: Any, **__: Any) -> Iterator[bytes]:
    raise TypeError("answers are read whole: there is no stream left to read")


class PooledTransport(HttpTransport[HttpRequest, HttpResponse]):
    """One urllib3 pool shared by every client of the process (thread-safe; the pool keeps as
    many connections per host as the host runs invocations)."""

    def __init__(
        self,
        pool: urllib3.PoolManager,
        *,
        connection_timeout: float = CONNECTION_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        self.pool = pool
        self.timeouts = (connection_timeout, read_timeout)

    @classmethod
    def create(
        cls,
        maxsize: int = 64,
        *,
        connection_timeout: float = CONNECTION_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
    ) -> PooledTransport:
        return cls(
            urllib3.PoolManager(
                num_pools=8,
                maxsize=maxsize,
                cert_reqs="CERT_REQUIRED",
                ca_certs=certifi.where(),
                retries=False,
            ),
            connection_timeout=connection_timeout,
            read_timeout=read_timeout,
        )

    def __enter__(self) -> PooledTransport:
        return self

    def __exit__(self, *args: object) -> None:
        """The pool outlives any one client."""

    def open(self) -> None:
        """Connections open on demand."""

    def close(self) -> None:
        """The pool outlives any one client."""

    def send(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        if kwargs.get("proxies") or getattr(request, "files", None):
            raise ValueError("PooledTransport sends no form files and goes through no proxy")
        timeout = urllib3.Timeout(
            connect=kwargs.get("connection_timeout", self.timeouts[0]),
            read=kwargs.get("read_timeout", self.timeouts[1]),
        )
        try:
            raw = self.pool.urlopen(
                request.method,
                request.url,
                body=request.data,
                headers=dict(request.headers),
                redirect=False,
                retries=False,
                timeout=timeout,
                preload_content=True,
            )
        except (ConnectTimeoutError, ReadTimeoutError, NewConnectionError, ProtocolError) as err:
            raise _mapped(err) from err
        except HTTPError as err:
            raise ServiceRequestError(err, error=err) from err
        return _Answer(request, raw)


def _mapped(err: HTTPError) -> Exception:
    """As azure-core's requests transport classifies the same failures."""
    if isinstance(err, NewConnectionError):  # a subclass of ConnectTimeoutError
        return ServiceRequestError(err, error=err)
    if isinstance(err, ConnectTimeoutError):
        return ServiceRequestTimeoutError(err, error=err)
    if isinstance(err, ReadTimeoutError):
        return ServiceResponseTimeoutError(err, error=err)
    if "IncompleteRead" in str(err):
        return IncompleteReadError(err, error=err)
    return ServiceResponseError(err, error=err)
