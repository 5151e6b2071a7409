"""A client for a running simulator, from the config it wrote: its admin API, and the
publisher's own view of Partner Center (for checking what the pipeline did)."""

from __future__ import annotations

import ssl
from typing import Any

import httpx


class SimulatorClient:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        # Idle connections are dropped well before the simulator's server closes them (5 s):
        # reusing one at the moment the server closes it loses the request.
        self.http = httpx.Client(
            verify=_trust(config.get("caCertPath")),
            timeout=30,
            limits=httpx.Limits(keepalive_expiry=2.0),
        )

    def close(self) -> None:
        self.http.close()

    def healthy(self) -> bool:
        return self.http.get(f"{self.config['adminUrl']}/health").status_code == 200

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        response = self.http.get(f"{self.config['adminUrl']}/requests", params={"since": since})
        response.raise_for_status()
        value: list[dict[str, Any]] = response.json()["value"]
        return value

    def put_secret(self, name: str, value: str, *, rotate_app: bool = True) -> None:
        """Set a vault secret; by default the app's credential in Entra changes with it (a
        rotation), otherwise the vault just holds a value Entra will refuse."""
        self.http.put(
            f"{self.config['adminUrl']}/secrets/{name}",
            json={"value": value, "rotateApp": rotate_app},
        ).raise_for_status()

    def set_live(self, **behaviour: Any) -> dict[str, Any]:
        """Pin live-service behaviours (pcsim.live), e.g. offerListing="v1";
        returns them as they were before, to put back."""
        before = self.http.get(f"{self.config['adminUrl']}/live")
        before.raise_for_status()
        self.http.put(f"{self.config['adminUrl']}/live", json=behaviour).raise_for_status()
        result: dict[str, Any] = before.json()
        return result

    def contract(self) -> dict[str, Any]:
        """{"checking", "checked", "problems"}: answers that contradicted the document."""
        answer = self.http.get(f"{self.config['adminUrl']}/contract")
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    def associate(self, client_id: str, associated: bool) -> None:
        self.http.put(
            f"{self.config['adminUrl']}/apps/{client_id}/association",
            json={"associated": associated},
        ).raise_for_status()

    def advance_clock(self, seconds: float) -> None:
        self.http.post(
            f"{self.config['adminUrl']}/clock", json={"advanceSeconds": seconds}
        ).raise_for_status()

    def set_faults(self, **faults: Any) -> None:
        """Replace the fault settings (camelCase keys as the admin API takes them)."""
        self.http.put(f"{self.config['adminUrl']}/faults", json=faults).raise_for_status()

    def clear_faults(self) -> None:
        self.http.delete(f"{self.config['adminUrl']}/faults").raise_for_status()

    def admin_put(self, what: str, body: dict[str, Any]) -> None:
        self.http.put(f"{self.config['adminUrl']}/{what}", json=body).raise_for_status()

    def end_certification(self, product_id: str) -> None:
        """The certification of the product's submission in flight ends now."""
        self.http.post(
            f"{self.config['adminUrl']}/products/{product_id}/certified"
        ).raise_for_status()

    def add_offer(self, offer_id: str, plans: list[Any], **spec: Any) -> dict[str, Any]:
        """Seed an offer (spec as in pcsim.seed: resourceType, packageType...)."""
        response = self.http.post(
            f"{self.config['adminUrl']}/offers",
            json={**spec, "offerId": offer_id, "plans": plans},
        )
        response.raise_for_status()
        product: dict[str, Any] = response.json()
        return product

    def token(
        self, client_id: str, secret: str, scope: str = "https://api.partner.microsoft.com/.default"
    ) -> str:
        response = self.http.post(
            f"{self.config['authorityHost']}/{self.config['tenantId']}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
                "scope": scope,
            },
        )
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token

    def ingestion(
        self,
        method: str,
        path: str,
        token: str | None = None,
        json: Any = None,
        if_match: str | None = None,
    ) -> httpx.Response:
        """Call the ingestion API as the publisher (or with `token`), as a person would."""
        token = token or self.token(self.config["clientId"], self.config["clientSecret"])
        headers = {"Authorization": f"Bearer {token}"}
        if if_match is not None:
            headers["If-Match"] = if_match
        return self.http.request(
            method, f"{self.config['ingestionBaseUrl']}/{path}", headers=headers, json=json
        )

    def submission_status(self, product_id: str, submission_id: str) -> str:
        sub = self.ingestion("GET", f"products/{product_id}/submissions/{submission_id}").json()
        return f"{sub['state']}/{sub['substate']}"


def _trust(ca_path: str | None) -> ssl.SSLContext | bool:
    """The system's CAs, plus the simulator's own CA when its config names one."""
    if not ca_path:
        return True
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=ca_path)
    return context
