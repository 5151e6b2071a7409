"""The simulator's request handler: `httpx.Request -> httpx.Response` for every surface it
serves on one port: the ingestion API under /v1.0/ingestion, the Entra and Key Vault stand-ins,
the package blob endpoint under /_blobs, and the admin API under /_admin.

Being a plain function of a request, it runs behind a real socket (server.py) or directly in
`httpx.MockTransport(sim.transport)` for fast unit tests. Delays are slept in the calling
thread; a connection reset is raised as ConnectionReset for the server to act out.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import httpx

from pcsim.blobs import Blobs
from pcsim.bodies import BodyRefused, bound
from pcsim.contract import Contract
from pcsim.control import Control
from pcsim.drafts import Drafts
from pcsim.extras import Extras
from pcsim.faults import Faults
from pcsim.identity import Identity
from pcsim.ingestion import INGESTION, Ingestion, Refusal
from pcsim.listing_media import ListingMedia
from pcsim.live import REGRESSION, LiveBehaviour, ProductIngestion
from pcsim.packages import Packages
from pcsim.sas_store import SasStore
from pcsim.seed import PARTNER_CENTER_AUDIENCE
from pcsim.submissions import Submissions
from pcsim.wire import json_response
from pcsim.world import World

Handler = Callable[..., httpx.Response]
Route = tuple[str, str, Handler]

__all__ = ["INGESTION", "ConnectionReset", "Simulator"]


class ConnectionReset(Exception):
    """Drop the connection instead of answering (`done`: whether the work was done)."""

    def __init__(self, done: bool) -> None:
        super().__init__("connection reset by the simulator")
        self.done = done


_CALLED: ContextVar[str | None] = ContextVar("simulator_called_base", default=None)


class Simulator:
    """Serves the world. Links it hands out (token endpoints, issuers, SAS URIs, reports) use
    the host the client called, as the live service's do; `base_url` outside a request."""

    def __init__(
        self, world: World, base_url: str = "https://localhost", contract: Contract | None = None
    ) -> None:
        self.world = world
        self._base_url = base_url.rstrip("/")
        self.contract = contract  # checks every ingestion answer against the document
        self.sas_store: SasStore | None = None  # package blobs in a real blob store
        self.faults = Faults()
        self.identity = Identity(self)
        self.ingestion = Ingestion(self)
        self.packages = Packages(self, self.ingestion)
        self.live = LiveBehaviour()
        self._log: list[dict[str, Any]] = []
        self._log_lock = threading.Lock()
        self._inflight = 0
        self._peak = 0
        self._throttled = 0
        self._calls: Counter[str] = Counter()
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        api = self.ingestion
        surfaces = (
            *(Control(self), self.identity, Blobs(self), api, self.packages),
            *(Submissions(self, api), Drafts(self, api), Extras(self, api)),
            *(ListingMedia(self, api), ProductIngestion(self)),
        )
        for surface in surfaces:
            for method, pattern, handler in surface.routes():
                self._routes.append((method, re.compile(pattern + "$", re.IGNORECASE), handler))

    @property
    def token_lifetime(self) -> int:
        return self.identity.token_lifetime

    @token_lifetime.setter
    def token_lifetime(self, value: int) -> None:
        self.identity.token_lifetime = value

    def error(
        self, status: int, message: str, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """An ingestion error in the configured shape (a JSON string, as live, by default)."""
        style = self.faults.error_body
        if style == "empty":
            return httpx.Response(status, headers=headers)
        body: Any = message
        if style == "object":
            body = {
                "code": httpx.codes.get_reason_phrase(status).replace(" ", ""),
                "message": message,
                "source": "Ingestion Api",
            }
        return json_response(status, body, headers)

    # -- dispatch -------------------------------------------------------------------------

    def transport(self, request: httpx.Request) -> httpx.Response:
        """For httpx.MockTransport: a reset becomes the error a real client would see."""
        try:
            return self.handle(request)
        except ConnectionReset as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from None

    @property
    def base_url(self) -> str:
        return _CALLED.get() or self._base_url

    def handle(self, request: httpx.Request) -> httpx.Response:
        token = _CALLED.set(f"{request.url.scheme}://{request.url.netloc.decode()}")
        try:
            return self._handle(request)
        finally:
            _CALLED.reset(token)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        started = time.time()
        with self._log_lock:
            self._inflight += 1
            self._peak = max(self._peak, self._inflight)
        status = 0
        try:
            response = self._dispatch(request)
            status = response.status_code
            if self.contract is not None:
                body = response.read()
                self.contract.observe(request.method, request.url.path, status, body)
            return response
        except ConnectionReset:
            status = -1
            raise
        finally:
            with self._log_lock:
                self._inflight -= 1
                self._throttled += status == 429
                self._log.append(
                    {
                        "seq": len(self._log),
                        "method": request.method,
                        "path": request.url.path,
                        "query": request.url.query.decode(),
                        "status": status,
                        "time": started,
                        "ms": round((time.time() - started) * 1000, 2),
                        "clientRequestId": request.headers.get("Client-Request-ID"),
                    }
                )

    def _dispatch(self, request: httpx.Request) -> httpx.Response:
        try:
            return self._route_request(request)
        except Refusal as refusal:
            return refusal.response

    def _route_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        allowed = False
        for method, pattern, handler in self._routes:
            match = pattern.match(path)
            if not match:
                continue
            if method != request.method:
                allowed = True
                continue
            with self._log_lock:
                self._calls[f"{method} {handler.__name__}"] += 1
            if path.lower().startswith(INGESTION):
                answer = self._ingestion_call(request, handler, match.groupdict())
                answer.headers["Request-ID"] = str(uuid.uuid4())
                answer.headers["ms-correlation-x"] = str(uuid.uuid4())
                return answer
            if not path.startswith("/_admin/"):  # Entra, Key Vault, blobs: scripted rules
                decision = self.faults.decide_rules(
                    request.method, path, request.url.query.decode()
                )
                time.sleep(decision.delay_before)  # a slow Entra or Key Vault
                if decision.status is not None:
                    return json_response(
                        decision.status,
                        {
                            "error": {
                                "code": "ServiceUnavailable",
                                "message": str(decision.body or "unavailable"),
                            }
                        },
                    )
            with self.world.lock:
                try:
                    return handler(request, **match.groupdict())
                except (ValueError, KeyError, TypeError) as exc:
                    if not path.startswith("/_admin/"):
                        raise
                    # A test's malformed body: say what, rather than a 500 from a traceback.
                    return json_response(400, f"bad admin request: {type(exc).__name__}: {exc}")
        if allowed:
            return self.error(
                405, f"The requested resource does not support http method '{request.method}'."
            )
        return self.error(
            404, f"No HTTP resource was found that matches the request URI '{request.url}'."
        )

    def _ingestion_call(
        self, request: httpx.Request, handler: Handler, params: dict[str, str]
    ) -> httpx.Response:
        claims = self.identity.claims(request, PARTNER_CENTER_AUDIENCE)
        if isinstance(claims, str):
            return self.error(
                401,
                f"Unauthorized: {claims}",
                {"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{claims}"'},
            )
        app = self.world.apps.get(claims.get("appid", ""))
        if (
            claims.get("tid") != self.world.tenant_id
            or app is None
            or (PARTNER_CENTER_AUDIENCE not in app.audiences)
        ):
            return self.error(
                self.live.unassociated_status,
                "Unauthorized: the application is not associated with this Partner Center "
                "account or lacks the Manager role.",
            )
        if self.live.regression_until > self.world.clock.now():
            return self.error(400, REGRESSION)
        decision = self.faults.decide(
            request.method,
            request.url.path,
            request.url.query.decode(),
            str(claims["tid"]),
            self.world.clock.now(),
        )
        if decision.delay_before:
            time.sleep(decision.delay_before)
        if decision.reset:
            raise ConnectionReset(done=False)
        if decision.not_ready:
            return httpx.Response(202, headers={**decision.headers, "Location": str(request.url)})
        if decision.status is not None:
            message = decision.body or httpx.codes.get_reason_phrase(decision.status)
            return self.error(decision.status, str(message), decision.headers)
        if request.method in ("POST", "PUT") and request.content:
            try:  # bound before the action runs: a bad body is a 400 even for a missing id
                bound(request)
            except BodyRefused as exc:
                return self.error(400, str(exc))
        with self.world.lock:
            response = handler(request, **params)
        if decision.delay_after:
            time.sleep(decision.delay_after)
        if decision.reset_after:
            raise ConnectionReset(done=True)
        if decision.raw_after is not None:
            status, raw = decision.raw_after
            kept = {
                k: v
                for k, v in response.headers.items()
                if k.lower() not in ("content-length", "content-type", "content-encoding")
            }
            response = httpx.Response(status, content=raw.encode(), headers=kept)
        if decision.trickle:
            response.extensions["trickle"] = decision.trickle  # the server spreads the body
        return response

    # -- what the admin API reports -------------------------------------------------------

    def request_log(self) -> list[dict[str, Any]]:
        with self._log_lock:
            return list(self._log)

    def stats(self) -> dict[str, Any]:
        with self._log_lock:
            return {
                "calls": dict(self._calls),
                "requests": len(self._log),
                "throttled": self._throttled,
                "peakConcurrency": self._peak,
                "tokensIssued": self.identity.issued,
            }
