"""The simulator's request handler: `httpx.Request -> httpx.Response`, for every surface it
serves on one port: the ingestion API under /v1.0/ingestion, the Entra token endpoints and
discovery documents under /{tenant}/, Key Vault's /secrets/, and an admin API under /_admin/.

Being a plain function of a request, it runs behind a real socket (server.py) or directly in
httpx.MockTransport for fast unit tests.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, quote

import httpx
import jwt

from pcpub.simulator.seed import PARTNER_CENTER_AUDIENCE, VAULT_AUDIENCE
from pcpub.simulator.world import Product, Submission, World

INGESTION = "/v1.0/ingestion"
Handler = Callable[..., httpx.Response]


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> httpx.Response:
    """The live service's usual error body: a JSON string."""
    return _json(status, message, headers)


class Simulator:
    """Serves the world; `base_url` is how clients reach it (used in discovery documents)."""

    def __init__(self, world: World, base_url: str = "https://localhost") -> None:
        self.world = world
        self.base_url = base_url.rstrip("/")
        self.token_lifetime = 3600
        self._key = uuid.uuid4().hex + uuid.uuid4().hex
        self.log: list[dict[str, Any]] = []
        self._log_lock = threading.Lock()
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        r = self._route
        r("GET", r"/_admin/health", self.admin_health)
        r("GET", r"/_admin/requests", self.admin_requests)
        r("GET", r"/_admin/config", self.admin_config)
        r("POST", r"/_admin/clock", self.admin_clock)
        r("PUT", r"/_admin/secrets/(?P<name>[^/]+)", self.admin_put_secret)
        r(
            "GET",
            r"/(?P<tenant>[^/_][^/]*)(?:/v2\.0)?/\.well-known/openid-configuration",
            self.openid_configuration,
        )
        r("POST", r"/(?P<tenant>[^/_][^/]*)/oauth2(?P<v2>/v2\.0)?/token", self.token)
        r("GET", r"/secrets/(?P<name>[^/]+)(?:/(?P<version>[^/]*))?/?", self.get_secret)
        p = INGESTION + r"/products"
        r("GET", p, self.list_products)
        r("GET", p + r"/(?P<pid>[^/]+)", self.get_product)
        r(
            "GET",
            p + r"/(?P<pid>[^/]+)/branches/getbymodule\(module=(?P<module>[^)]+)\)",
            self.branches,
        )
        r("GET", p + r"/(?P<pid>[^/]+)/variants", self.variants)
        r("GET", p + r"/(?P<pid>[^/]+)/submissions", self.list_submissions)
        r("POST", p + r"/(?P<pid>[^/]+)/submissions", self.create_submission)
        r("GET", p + r"/(?P<pid>[^/]+)/submissions/(?P<sid>\d+)", self.get_submission)
        r("DELETE", p + r"/(?P<pid>[^/]+)/submissions/(?P<sid>\d+)", self.cancel_submission)
        r("POST", p + r"/(?P<pid>[^/]+)/submissions/(?P<sid>\d+)/promote", self.promote)
        r(
            "GET",
            p + r"/(?P<pid>[^/]+)/submissions/(?P<sid>\d+)/workflowdetails",
            self.workflow_details,
        )
        r("GET", p + r"/(?P<pid>[^/]+)/submissions/(?P<sid>\d+)/validations", self.validations)

    def _route(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method, re.compile(pattern + "$", re.IGNORECASE), handler))

    # -- dispatch -------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        started = time.time()
        path = request.url.path
        response = self._dispatch(request, path)
        with self._log_lock:
            self.log.append(
                {
                    "seq": len(self.log),
                    "method": request.method,
                    "path": path,
                    "query": request.url.query.decode(),
                    "status": response.status_code,
                    "time": started,
                    "ms": round((time.time() - started) * 1000, 2),
                    "clientRequestId": request.headers.get("Client-Request-ID"),
                }
            )
        return response

    def _dispatch(self, request: httpx.Request, path: str) -> httpx.Response:
        allowed = False
        for method, pattern, handler in self._routes:
            match = pattern.match(path)
            if not match:
                continue
            if method != request.method:
                allowed = True
                continue
            if path.lower().startswith(INGESTION):
                denied = self._authorize(request, PARTNER_CENTER_AUDIENCE)
                if denied is not None:
                    return denied
            with self.world.lock:
                return handler(request, **match.groupdict())
        if allowed:
            return _error(
                405, f"The requested resource does not support http method '{request.method}'."
            )
        return _error(
            404, f"No HTTP resource was found that matches the request URI '{request.url}'."
        )

    # -- Entra ID -------------------------------------------------------------------------

    def openid_configuration(self, request: httpx.Request, tenant: str) -> httpx.Response:
        base = f"{self.base_url}/{tenant}"
        return _json(
            200,
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "issuer": f"{base}/v2.0",
                "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
                "response_types_supported": ["code", "id_token", "token"],
                "tenant_region_scope": "NA",
            },
        )

    def token(self, request: httpx.Request, tenant: str, v2: str | None) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        if form.get("grant_type") != "client_credentials":
            return self._aad_error(400, "unsupported_grant_type", "AADSTS70003")
        if tenant != self.world.tenant_id:
            return self._aad_error(400, "invalid_request", "AADSTS90002: Tenant not found")
        app = self.world.apps.get(form.get("client_id", ""))
        if app is None:
            return self._aad_error(
                400, "unauthorized_client", "AADSTS700016: Application not found in the directory"
            )
        if form.get("client_secret") != app.secret:
            return self._aad_error(
                401, "invalid_client", "AADSTS7000215: Invalid client secret provided."
            )
        if v2:
            audience = form.get("scope", "").split(" ")[0].removesuffix("/.default")
        else:
            audience = form.get("resource", "")
        if not audience:
            return self._aad_error(400, "invalid_request", "AADSTS900144: scope is missing")
        now = int(self.world.clock.now())
        lifetime = self.token_lifetime
        claims = {
            "aud": audience,
            "tid": tenant,
            "appid": app.client_id,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "iss": f"{self.base_url}/{tenant}/v2.0",
            "jti": uuid.uuid4().hex,
        }
        token = jwt.encode(claims, self._key, algorithm="HS256")
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": token,
        }
        if not v2:  # the v1 endpoint answers with strings
            body.update(
                {
                    "expires_in": str(lifetime),
                    "expires_on": str(now + lifetime),
                    "not_before": str(now),
                    "resource": audience,
                }
            )
        return _json(200, body)

    def _aad_error(self, status: int, error: str, description: str) -> httpx.Response:
        return _json(
            status,
            {
                "error": error,
                "error_description": description,
                "error_codes": [int(re.sub(r"\D", "", description[:13]) or 0)],
                "trace_id": str(uuid.uuid4()),
                "correlation_id": str(uuid.uuid4()),
            },
        )

    def _claims(self, request: httpx.Request, audience: str) -> dict[str, Any] | str:
        header = request.headers.get("Authorization", "")
        if not header.lower().startswith("bearer "):
            return "no bearer token"
        try:
            claims: dict[str, Any] = jwt.decode(
                header[7:],
                self._key,
                algorithms=["HS256"],
                audience=audience,
                options={"verify_exp": False},
            )
        except jwt.InvalidAudienceError:
            return "the token's audience is not " + audience
        except jwt.PyJWTError:
            return "the token is malformed or not signed by this authority"
        if claims["exp"] <= self.world.clock.now():
            return "the token has expired"
        return claims

    def _authorize(self, request: httpx.Request, audience: str) -> httpx.Response | None:
        claims = self._claims(request, audience)
        if isinstance(claims, str):
            return _error(
                401,
                f"Unauthorized: {claims}",
                {"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{claims}"'},
            )
        app = self.world.apps.get(claims.get("appid", ""))
        if (
            claims.get("tid") != self.world.tenant_id
            or app is None
            or (audience not in app.audiences)
        ):
            return _error(403, "Forbidden: the application has no access to this account")
        return None

    # -- Key Vault ------------------------------------------------------------------------

    def get_secret(self, request: httpx.Request, name: str, version: str | None) -> httpx.Response:
        claims = self._claims(request, VAULT_AUDIENCE)
        if isinstance(claims, str):
            challenge = (
                f'Bearer authorization="{self.base_url}/{self.world.tenant_id}", '
                f'resource="{VAULT_AUDIENCE}"'
            )
            return _json(
                401,
                {
                    "error": {
                        "code": "Unauthorized",
                        "message": "AKV10000: Request is missing a Bearer or PoP token.",
                    }
                },
                {"WWW-Authenticate": challenge},
            )
        app = self.world.apps.get(claims.get("appid", ""))
        if app is None or VAULT_AUDIENCE not in app.audiences:
            return _json(
                403,
                {
                    "error": {
                        "code": "Forbidden",
                        "message": "Caller is not authorized to perform action on resource.",
                    }
                },
            )
        value = self.world.vault.get(name)
        if value is None:
            return _json(
                404,
                {
                    "error": {
                        "code": "SecretNotFound",
                        "message": f"A secret with (name/id) {name} was not "
                        "found in this key vault.",
                    }
                },
            )
        created = int(self.world.clock.now())
        return _json(
            200,
            {
                "value": value,
                "id": f"{self.base_url}/secrets/{name}/{uuid.uuid5(uuid.NAMESPACE_URL, value).hex}",
                "attributes": {
                    "enabled": True,
                    "created": created,
                    "updated": created,
                    "recoveryLevel": "Recoverable+Purgeable",
                },
            },
        )

    # -- admin ----------------------------------------------------------------------------

    def admin_health(self, request: httpx.Request) -> httpx.Response:
        return _json(200, {"status": "ok"})

    def admin_requests(self, request: httpx.Request) -> httpx.Response:
        since = int(request.url.params.get("since", "0"))
        with self._log_lock:
            return _json(200, {"value": self.log[since:], "count": len(self.log)})

    def admin_config(self, request: httpx.Request) -> httpx.Response:
        return _json(200, {"tenantId": self.world.tenant_id, "offers": self.world.offers_config()})

    def admin_clock(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content or b"{}")
        self.world.clock.offset += float(body.get("advanceSeconds", 0))
        return _json(200, {"offsetSeconds": self.world.clock.offset})

    def admin_put_secret(self, request: httpx.Request, name: str) -> httpx.Response:
        body = json.loads(request.content or b"{}")
        self.world.vault[name] = str(body["value"])
        for app in self.world.apps.values():
            if app.vault_secret_name == name and body.get("rotateApp", True):
                app.secret = str(body["value"])
        return _json(200, {"name": name})

    # -- ingestion API --------------------------------------------------------------------

    def _product(self, pid: str) -> Product | httpx.Response:
        for product in self.world.products.values():
            if product.id.lower() == pid.lower():
                return product
        return _error(404, f"Product {pid} was not found.")

    def _page(self, request: httpx.Request, items: list[dict[str, Any]]) -> httpx.Response:
        token = request.url.params.get("$skipToken") or request.url.params.get("$skiptoken")
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
        except ValueError:
            return _error(400, "Invalid $skipToken.")
        end = start + self.world.page_size
        body: dict[str, Any] = {"value": items[start:end]}
        if end < len(items):
            params = [
                (k, v) for k, v in request.url.params.multi_items() if k.lower() != "$skiptoken"
            ]
            params.append(("$skipToken", base64.urlsafe_b64encode(str(end).encode()).decode()))
            query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params)
            body["nextLink"] = f"{request.url.path.lstrip('/')}?{query}"
        return _json(200, body)

    def list_products(self, request: httpx.Request) -> httpx.Response:
        products = list(self.world.products.values())
        flt = request.url.params.get("$filter")
        if flt:
            matched = _filter_products(products, flt)
            if matched is None:
                return _error(400, f"Unsupported $filter expression: {flt}")
            products = matched
        return self._page(request, [p.body() for p in products])

    def get_product(self, request: httpx.Request, pid: str) -> httpx.Response:
        product = self._product(pid)
        return product if isinstance(product, httpx.Response) else _json(200, product.body())

    def branches(self, request: httpx.Request, pid: str, module: str) -> httpx.Response:
        product = self._product(pid)
        if isinstance(product, httpx.Response):
            return product
        found = [b.body() for b in product.branches if b.module.lower() == module.lower()]
        return _json(200, {"value": found})

    def variants(self, request: httpx.Request, pid: str) -> httpx.Response:
        product = self._product(pid)
        if isinstance(product, httpx.Response):
            return product
        return self._page(request, [v.body() for v in product.variants])

    def list_submissions(self, request: httpx.Request, pid: str) -> httpx.Response:
        product = self._product(pid)
        if isinstance(product, httpx.Response):
            return product
        now = self.world.clock.now()
        return _json(200, {"value": [s.body(now, self.world.profile) for s in product.submissions]})

    def _submission(self, pid: str, sid: str) -> tuple[Product, Submission] | httpx.Response:
        product = self._product(pid)
        if isinstance(product, httpx.Response):
            return product
        for sub in product.submissions:
            if sub.id == sid:
                return product, sub
        return _error(404, f"Submission {sid} was not found for product {pid}.")

    def create_submission(self, request: httpx.Request, pid: str) -> httpx.Response:
        product = self._product(pid)
        if isinstance(product, httpx.Response):
            return product
        try:
            body = json.loads(request.content or b"null")
        except ValueError:
            return _error(400, "The request body is not valid JSON.")
        if not isinstance(body, dict):
            return _error(400, "A SubmissionCreationRequest is required.")
        running = self.world.in_flight(product)
        if running is not None:
            return _error(
                409,
                f"Submission {running.id} is in progress for product "
                f"{product.id}; a new submission cannot be created until it "
                "completes.",
            )
        sub = Submission(
            id=self.world.new_submission_id(),
            product_id=product.id,
            created=self.world.clock.now(),
            request=body,
            release_number=len(product.submissions) + 1,
        )
        product.submissions.append(sub)
        return _json(201, sub.body(self.world.clock.now(), self.world.profile))

    def get_submission(self, request: httpx.Request, pid: str, sid: str) -> httpx.Response:
        found = self._submission(pid, sid)
        if isinstance(found, httpx.Response):
            return found
        return _json(200, found[1].body(self.world.clock.now(), self.world.profile))

    def cancel_submission(self, request: httpx.Request, pid: str, sid: str) -> httpx.Response:
        found = self._submission(pid, sid)
        if isinstance(found, httpx.Response):
            return found
        product, sub = found
        state, _, _ = sub.status(self.world.clock.now(), self.world.profile)
        if state != "InProgress":
            return _error(409, f"Submission {sid} is not in progress and cannot be cancelled.")
        product.submissions.remove(sub)
        return httpx.Response(204)

    def promote(self, request: httpx.Request, pid: str, sid: str) -> httpx.Response:
        found = self._submission(pid, sid)
        if isinstance(found, httpx.Response):
            return found
        _, sub = found
        now = self.world.clock.now()
        state, substate, _ = sub.status(now, self.world.profile)
        if sub.promoted is not None:
            return _error(409, f"Submission {sid} has already been promoted.")
        if (state, substate) != ("Published", "ReadyToPublish"):
            return _error(
                409,
                f"Submission {sid} is {state}/{substate}; only a submission "
                "whose preview is ready (Published/ReadyToPublish) can be "
                "promoted.",
            )
        sub.promoted = now
        return _json(200, sub.workflow(now, self.world.profile)[-1])

    def workflow_details(self, request: httpx.Request, pid: str, sid: str) -> httpx.Response:
        found = self._submission(pid, sid)
        if isinstance(found, httpx.Response):
            return found
        return _json(200, {"value": found[1].workflow(self.world.clock.now(), self.world.profile)})

    def validations(self, request: httpx.Request, pid: str, sid: str) -> httpx.Response:
        found = self._submission(pid, sid)
        if isinstance(found, httpx.Response):
            return found
        return _json(200, {"value": []})


_EXTERNAL_ID = re.compile(
    r"externalids/any\(\s*(\w+)\s*:\s*\1/type\s+eq\s+'([^']*)'\s+and\s+\1/value\s+eq\s+"
    r"'((?:[^']|'')*)'\s*\)",
    re.IGNORECASE,
)
_RESOURCE_TYPE = re.compile(r"resourcetype\s+eq\s+'([^']*)'", re.IGNORECASE)


def _filter_products(products: list[Product], flt: str) -> list[Product] | None:
    """Apply the $filter forms the service supports (eq on ExternalIDs and ResourceType)."""
    rest = flt
    ext = _EXTERNAL_ID.search(rest)
    if ext:
        kind, value = ext.group(2).lower(), ext.group(3).replace("''", "'")
        rest = rest.replace(ext.group(0), "")
        if kind != "azureofferid":
            return []
        products = [p for p in products if p.offer_id == value]
    rtype = _RESOURCE_TYPE.search(rest)
    if rtype:
        rest = rest.replace(rtype.group(0), "")
        products = [p for p in products if p.resource_type.lower() == rtype.group(1).lower()]
    if re.sub(r"\s|and", "", rest, flags=re.IGNORECASE):
        return None
    return products
