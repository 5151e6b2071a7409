"""The ingestion API's transport: one pooled httpx client, one retry policy, typed errors.

Retry rules (the API note's §5): GET, PUT (with If-Match) and DELETE are retried on 5xx and
connection failures with jittered exponential backoff; any call is retried on 429, since the
service did not act on it; a non-idempotent POST (create submission, promote) is never repeated
after an ambiguous failure: the caller reconciles by reading state first. Attempts and total
time are bounded so a stage ends well inside its queue message's visibility lease, leaving long
outages to a delayed redelivery. The resources are in shared.partnercenter.client.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel

from shared.observability import metrics
from shared.partnercenter.call_context import check_fence, counted, run_of_call
from shared.partnercenter.errors import (
    MalformedAnswer,
    PartnerCenterError,
    StatusError,
    TransportError,
    error_class,
    service_message,
)
from shared.partnercenter.paths import check_within, route_template
from shared.partnercenter.ratelimit import Pace
from shared.partnercenter.responses import ANSWER_SECONDS, answer, link_in, parsed, read_whole
from shared.partnercenter.retries import RetryPolicy, not_ready, parse_retry_after

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)


class TokenProvider(Protocol):
    """Gives a bearer token for Partner Center; `invalidate` forces a fresh one next time."""

    def token(self) -> str: ...

    def invalidate(self) -> None: ...


DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
# A listing's pages at most: far past any publisher's products or an offer's submissions, and
# a bound on a service that keeps answering with a next page.
MAX_PAGES = 500
# Where a page names the next: the live service's `nextLink`, the document's `@odata.nextLink`,
# and `@nextLink`, which clients of the API accept too.
NEXT_LINKS = ("nextlink", "@odata.nextlink", "@nextlink")  # as read: in lower case
# As many idle connections kept as calls an instance makes at once (httpx keeps 20): a burst
# of stages' reads would otherwise close the rest after each call and pay a TLS handshake for
# every call of the next burst, on the CPU the stages share. An idle one is dropped before the
# 5-second keep-alive many servers use, so a reused connection is seldom one closed under it.
LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=100, keepalive_expiry=4.0)
# A 401 for a token Entra has just issued is not about the token (live-service-2026 §4).
NOT_ASSOCIATED = (
    "(a freshly issued token was refused too: the Entra app is not added to the Partner "
    "Center account, or lacks the Manager role there)"
)


def tls_verify(ca_bundle: str | bool | None) -> ssl.SSLContext | bool:
    """httpx's `verify`: the system's CAs, plus `ca_bundle` when one is given."""
    if not isinstance(ca_bundle, str):
        return ca_bundle is not False
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=ca_bundle)
    return context


class IngestionTransport:
    """Sends calls to `{base_url}` = https://api.partner.microsoft.com/v1.0/ingestion."""

    def __init__(
        self,
        base_url: str,
        tokens: TokenProvider,
        *,
        verify: str | bool = True,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        extra_headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Any = time.sleep,
        rate_limiter: Pace | None = None,
        answer_seconds: float = ANSWER_SECONDS,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._tokens = tokens
        self._verify = verify
        self._timeout = timeout
        self._retry = retry or RetryPolicy()
        self._headers = dict(extra_headers or {})
        self._transport = transport
        self._sleep = sleep
        self._limiter = rate_limiter
        self._answer_seconds = answer_seconds
        self._http: httpx.Client | None = None
        self._lock = threading.Lock()

    # -- plumbing ---------------------------------------------------------------------------

    def _client(self) -> httpx.Client:
        with self._lock:
            if self._http is None:
                self._http = httpx.Client(
                    verify=tls_verify(self._verify),
                    timeout=self._timeout,
                    limits=LIMITS,
                    transport=self._transport,
                    headers={
                        "Accept": "application/json",
                        "User-Agent": "pc-publisher/0.1",
                        **self._headers,
                    },
                )
            return self._http

    def warm(self) -> None:
        """Build the HTTP client and take a token now, so that a new instance's first calls
        queue behind neither (no call is made: it would spend the tenant's budget)."""
        self._client()
        self._tokens.token()

    def close(self) -> None:
        with self._lock:
            if self._http is not None:
                self._http.close()
                self._http = None

    def _url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        if path.lstrip("/").lower().startswith("v1.0/"):  # the live service's relative nextLink
            return f"{self._origin}/{path.lstrip('/')}"
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        if_match: str | None = None,
    ) -> httpx.Response:
        """Send one logical call with the retry policy; return the 2xx response or raise."""
        idempotent = method in ("GET", "PUT", "DELETE", "HEAD")
        url = self._url(path)
        check_within(url, self.base_url)
        route = route_template(path)
        started = time.monotonic()
        refreshed = False
        attempt = 0
        run = run_of_call()
        while True:
            attempt += 1
            crid = f"{run or 'pcpub'}.{uuid.uuid4().hex[:12]}"
            headers = {"Authorization": f"Bearer {self._tokens.token()}", "Client-Request-ID": crid}
            if if_match is not None:
                headers["If-Match"] = if_match
            if self._limiter is not None:
                self._limiter.acquire()
            if not idempotent:
                check_fence()  # after any wait: a POST is only sent while the claim is ours
            counted()
            client = self._client()
            try:
                response = read_whole(
                    client,
                    client.build_request(method, url, params=params, json=json, headers=headers),
                    self._answer_seconds,
                )
            except httpx.TransportError as exc:
                metrics.pc_call(method, route, None)
                err: PartnerCenterError = TransportError(
                    f"{method} {path}: {type(exc).__name__}",
                    method=method,
                    path=path,
                    client_request_id=crid,
                )
                if not idempotent or not self._may_retry(attempt, started, 0.0):
                    raise err from None
                delay = self._retry.backoff(attempt)
                log.warning(
                    "retrying after %s",
                    type(exc).__name__,
                    extra={"action": "pc_retry", "path": path, "attempt": attempt},
                )
                self._sleep(delay)
                continue
            metrics.pc_call(method, route, response.status_code)
            if response.status_code < 400:
                if (later := not_ready(method, response.status_code, response.headers)) is None:
                    return response
                wait = parse_retry_after(response.headers.get("Retry-After"))
                wait = self._retry.backoff(attempt) if wait is None else wait
                if not self._may_retry(attempt, started, wait):
                    return response  # past the call's budget, no result is a malformed one
                url, params = self._url(link_in(later, method, path, "Location")), None
                check_within(url, self.base_url)
                log.info("not ready; asking again", extra={"action": "pc_not_ready", "path": path})
                self._sleep(wait)
                continue
            body = response.read()
            status = response.status_code
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            message = service_message(body)
            if status == 401 and refreshed:
                message = (message + " " if message else "") + NOT_ASSOCIATED
            err = error_class(status)(
                status,
                message,
                method=method,
                path=path,
                request_id=response.headers.get("Request-ID"),
                client_request_id=crid,
                retry_after=retry_after,
                correlation_id=response.headers.get("ms-correlation-x"),
            )
            if status == 429 and self._limiter is not None:
                self._limiter.throttled(retry_after)  # every instance slows down
            if status == 401 and not refreshed:
                refreshed = True
                self._tokens.invalidate()
                continue
            retryable = status in self._retry.retry_statuses and (idempotent or status == 429)
            if not retryable:
                raise err
            delay = retry_after if retry_after is not None else self._retry.backoff(attempt)
            if delay > self._retry.max_retry_after or not self._may_retry(attempt, started, delay):
                raise err
            log.warning(
                "retrying after %s",
                status,
                extra={"action": "pc_retry", "path": path, "attempt": attempt, "status": status},
            )
            self._sleep(delay)

    def _may_retry(self, attempt: int, started: float, delay: float) -> bool:
        elapsed = time.monotonic() - started
        return (
            attempt < self._retry.max_attempts and elapsed + delay < self._retry.max_total_seconds
        )

    def _get(self, path: str, model: type[M], params: Mapping[str, str] | None = None) -> M:
        return parsed(model, self.request("GET", path, params=params))

    def _paged(
        self, path: str, model: type[M], params: Mapping[str, str] | None = None
    ) -> Iterator[M]:
        """Items of a collection across pages; a 404 on a later page ends it (a known bug). A
        next link that is no link, names a page already read or goes past MAX_PAGES is a
        malformed answer: followed, it would spend the tenant's budget without end."""
        page: str | None = path
        first = True
        read: set[str] = set()
        while page:
            if page in read or len(read) >= MAX_PAGES:
                why = (
                    "names a page already read" if page in read else f"goes past {MAX_PAGES} pages"
                )
                raise MalformedAnswer(f"GET {path}: the listing {why}", method="GET", path=path)
            read.add(page)
            try:
                data = answer(self.request("GET", page, params=params if first else None))
            except StatusError as exc:
                if exc.status == 404 and not first:
                    log.warning("next page 404; stopping", extra={"action": "pc_page_404"})
                    return
                raise
            first = False
            # Names in any case, as the models read them: `Value`, `NextLink`.
            folded = {str(k).lower(): v for k, v in data.items()} if isinstance(data, dict) else {}
            items = folded.get("value", []) if isinstance(data, dict) else None
            if not isinstance(items, list):
                raise MalformedAnswer(f"GET {page}: not a collection page", method="GET", path=page)
            for item in items:
                yield parsed(model, item, "GET", page)
            link = next((folded[k] for k in NEXT_LINKS if folded.get(k)), None)
            page = None if link is None else link_in(link, "GET", path, "next link")
