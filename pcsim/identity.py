"""The Entra ID and Key Vault stand-ins: what azure-identity and azure-keyvault-secrets talk to.

Entra: the v2 discovery document MSAL reads, and the client-credentials token endpoint in both
forms (v1 `/oauth2/token` with `resource=`, v2 `/oauth2/v2.0/token` with `scope=`). Tokens are
HS256 JWTs signed by this simulator, with `aud`, `tid`, `appid` and `exp`.
Key Vault: `GET /secrets/{name}[/{version}]`, answering a request without a token with the
bearer challenge the SDK expects.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import httpx
import jwt

from pcsim.seed import VAULT_AUDIENCE
from pcsim.wire import json_response

if TYPE_CHECKING:
    from pcsim.app import Route, Simulator


class Identity:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.key = uuid.uuid4().hex + uuid.uuid4().hex
        self.token_lifetime = 3600
        self.issued = 0

    def routes(self) -> list[Route]:
        return [
            (
                "GET",
                r"/(?P<tenant>[^/_][^/]*)(?:/v2\.0)?/\.well-known/openid-configuration",
                self.openid_configuration,
            ),
            ("POST", r"/(?P<tenant>[^/_][^/]*)/oauth2(?P<v2>/v2\.0)?/token", self.token),
            ("GET", r"/secrets/(?P<name>[^/]+)(?:/(?P<version>[^/]*))?/?", self.get_secret),
        ]

    def openid_configuration(self, request: httpx.Request, tenant: str) -> httpx.Response:
        base = f"{self.sim.base_url}/{tenant}"
        return json_response(
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
        # A form that is no UTF-8 names no grant type: a 400, as any form without one.
        form = {k: v[0] for k, v in parse_qs(request.content.decode("utf-8", "replace")).items()}
        if form.get("grant_type") != "client_credentials":
            return self._error(400, "unsupported_grant_type", "AADSTS70003: grant type")
        app = self.sim.world.apps.get(form.get("client_id", ""))
        if app is None or app.tenant_id != tenant:
            return self._error(
                400, "unauthorized_client", "AADSTS700016: Application not found in the directory"
            )
        if form.get("client_secret") != app.secret:
            return self._error(
                401, "invalid_client", "AADSTS7000215: Invalid client secret provided."
            )
        if v2:
            audience = form.get("scope", "").split(" ")[0].removesuffix("/.default")
        else:
            audience = form.get("resource", "")
        if not audience:
            return self._error(400, "invalid_request", "AADSTS900144: scope is missing")
        now = int(self.sim.world.clock.now())
        lifetime = self.token_lifetime
        claims = {
            "aud": audience,
            "tid": tenant,
            "appid": app.client_id,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "iss": f"{self.sim.base_url}/{tenant}/v2.0",
            "jti": uuid.uuid4().hex,
        }
        self.issued += 1
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": jwt.encode(claims, self.key, algorithm="HS256"),
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
        return json_response(200, body)

    def _error(self, status: int, error: str, description: str) -> httpx.Response:
        code = re.match(r"AADSTS(\d+)", description)
        return json_response(
            status,
            {
                "error": error,
                "error_description": description,
                "error_codes": [int(code.group(1))] if code else [],
                "trace_id": str(uuid.uuid4()),
                "correlation_id": str(uuid.uuid4()),
            },
        )

    def claims(self, request: httpx.Request, audience: str) -> dict[str, Any] | str:
        """The bearer token's claims, or why it is refused."""
        header = request.headers.get("Authorization", "")
        if not header.lower().startswith("bearer "):
            return "no bearer token"
        try:
            claims: dict[str, Any] = jwt.decode(
                header[7:],
                self.key,
                algorithms=["HS256"],
                audience=audience,
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
            )
        except jwt.InvalidAudienceError:
            return "the token's audience is not " + audience
        except jwt.PyJWTError:
            return "the token is malformed or not signed by this authority"
        if claims["exp"] <= self.sim.world.clock.now():
            return "the token has expired"
        return claims

    def get_secret(self, request: httpx.Request, name: str, version: str | None) -> httpx.Response:
        world = self.sim.world
        claims = self.claims(request, VAULT_AUDIENCE)
        if isinstance(claims, str):
            challenge = (
                f'Bearer authorization="{self.sim.base_url}/{world.tenant_id}", '
                f'resource="{VAULT_AUDIENCE}"'
            )
            return json_response(
                401,
                {
                    "error": {
                        "code": "Unauthorized",
                        "message": "AKV10000: Request is missing a Bearer or PoP token.",
                    }
                },
                {"WWW-Authenticate": challenge},
            )
        app = world.apps.get(claims.get("appid", ""))
        if app is None or VAULT_AUDIENCE not in app.audiences:
            return json_response(
                403,
                {
                    "error": {
                        "code": "Forbidden",
                        "message": "Caller is not authorized to perform action on resource.",
                    }
                },
            )
        value = world.vault.get(name)
        if value is None:
            return json_response(
                404,
                {
                    "error": {
                        "code": "SecretNotFound",
                        "message": f"A secret with (name/id) {name} was not found in this "
                        "key vault.",
                    }
                },
            )
        created = int(world.clock.now())
        return json_response(
            200,
            {
                "value": value,
                "id": f"{self.sim.base_url}/secrets/{name}/"
                f"{uuid.uuid5(uuid.NAMESPACE_URL, value).hex}",
                "attributes": {
                    "enabled": True,
                    "created": created,
                    "updated": created,
                    "recoveryLevel": "Recoverable+Purgeable",
                },
            },
        )
