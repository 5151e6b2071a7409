"""Every operation of the OpenAPI document is served, and answers as the document says (the
`sim` fixture checks every answer against it)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from pcsim.app import Simulator
from pcsim.contract import Contract
from tests.conftest import BASE, REFERENCE, SimTokens

pytestmark = pytest.mark.skipif(not REFERENCE.exists(), reason="../shared/reference absent")


class Caller:
    """Calls the simulator as a client would, and notes which operation each call was."""

    def __init__(self, sim: Simulator) -> None:
        token = SimTokens(sim).token()
        self.http = httpx.Client(
            transport=httpx.MockTransport(sim.transport),
            base_url=f"{BASE}/v1.0/ingestion",
            headers={"Authorization": f"Bearer {token}"},
        )
        self.contract = Contract(REFERENCE)
        self.doc = self.contract.doc
        self.served: set[tuple[str, str]] = set()

    def __call__(self, method: str, path: str, **kw: Any) -> httpx.Response:
        answer = self.http.request(method, path, **kw)
        template = self.contract.operation_of(method, f"/v1.0/ingestion/{path}")
        assert template is not None, (method, path)
        assert answer.status_code not in (404, 405) or "was not found" in answer.text, (
            method,
            path,
            answer.text,
        )
        assert answer.status_code < 500, (method, path, answer.text)
        self.served.add((method, template))
        return answer


def etag(answer: httpx.Response) -> dict[str, str]:
    return {"If-Match": answer.json()["@odata.etag"]}


def test_every_operation_of_the_document_is_served(sim: Simulator) -> None:
    sim.live.offer_listing = "v1"
    call = Caller(sim)
    created = call(
        "POST",
        "products",
        json={
            "resourceType": "AzureApplication",
            "name": "Ops",
            "isModularPublishing": True,
            "externalIDs": [{"type": "AzureOfferId", "value": "ops-offer"}],
        },
    ).json()
    pid = created["id"]
    p = f"products/{pid}"
    call("GET", "products")
    call("GET", p)
    call("GET", f"{p}/setup")
    call(
        "POST",
        f"{p}/setup",
        json={"resourceType": "AzureProductSetup", "sellingOption": "ListingOnly"},
    )
    plan = call(
        "POST",
        f"{p}/variants",
        json={
            "resourceType": "AzureSkuVariant",
            "externalID": "ops-plan",
            "friendlyName": "Ops plan",
            "subType": "managed-application",
        },
    ).json()
    vid = plan["id"]
    call("GET", f"{p}/variants")
    call("GET", f"{p}/variants/{vid}")
    call("PUT", f"{p}/variants/{vid}", json={**plan, "friendlyName": "Renamed"})

    def instance(module: str, variant: str | None = None) -> str:
        branches = call("GET", f"{p}/branches/getByModule(module={module})").json()["value"]
        found = next(b for b in branches if b.get("variantID") == variant)
        return str(found["currentDraftInstanceID"])

    listing_instance = instance("Listing")
    [listing] = call("GET", f"{p}/listings/getByInstanceID(instanceID={listing_instance})").json()[
        "value"
    ]
    lid = listing["id"]
    got = call("GET", f"{p}/listings/{lid}")
    call("PUT", f"{p}/listings/{lid}", json={**got.json(), "title": "T"}, headers=etag(got))
    extra = call(
        "POST",
        f"{p}/listings/createWithInstanceID(instanceID={listing_instance})",
        json={"resourceType": "AzureListing", "languageCode": "de-de", "title": "T"},
    )
    assert extra.status_code == 201
    for kind, rtype in (
        ("images", "ListingImage"),
        ("assets", "ListingAsset"),
        ("videos", "ListingVideo"),
    ):
        file: dict[str, Any] = {"fileName": "a.png", "type": "AzureLogoLarge"}
        if kind == "videos":  # the document's shape: it streams; its thumbnail is uploaded
            file = {"streamingUri": "https://v.example/1", "thumbnail": {"fileName": "a.png"}}
        made = call("POST", f"{p}/listings/{lid}/{kind}", json={"resourceType": rtype, **file})
        assert made.status_code in (200, 201), made.text
        cid = made.json()["id"]
        call("GET", f"{p}/listings/{lid}/{kind}")
        one = call("GET", f"{p}/listings/{lid}/{kind}/{cid}")
        call(
            "PUT",
            f"{p}/listings/{lid}/{kind}/{cid}",
            json={**one.json(), "state": "Uploaded"},
            headers=etag(one),
        )
        call("DELETE", f"{p}/listings/{lid}/{kind}/{cid}")
    call("DELETE", f"{p}/listings/{extra.json()['id']}")
    for collection, path, module in (
        ("properties", "properties", "Property"),
        ("productAvailabilities", "productavailabilities", "Availability"),
    ):
        [res] = call(
            "GET", f"{p}/{collection}/getByInstanceID(instanceID={instance(module)})"
        ).json()["value"]
        one = call("GET", f"{p}/{path}/{res['id']}")
        call("PUT", f"{p}/{path}/{res['id']}", json=one.json(), headers=etag(one))
        call("GET", f"{p}/{path}")
        kind = "AzureProperty" if path == "properties" else "ProductAvailability"
        call("POST", f"{p}/{path}", json={"resourceType": kind})
    for collection, path, module in (
        ("featureAvailabilities", "featureavailabilities", "Availability"),
        ("packageConfigurations", "packageconfigurations", "Package"),
    ):
        [res] = call(
            "GET", f"{p}/{collection}/getByInstanceID(instanceID={instance(module, vid)})"
        ).json()["value"]
        one = call("GET", f"{p}/{path}/{res['id']}")
        call("PUT", f"{p}/{path}/{res['id']}", json=one.json(), headers=etag(one))
    cosell = call(
        "POST", f"{p}/cosellAssets", json={"resourceType": "CosellAsset", "fileName": "deck.pdf"}
    ).json()
    call("GET", f"{p}/cosellAssets")
    call("GET", f"{p}/cosellAssets/getByInstanceID(instanceID={listing_instance})")
    one = call("GET", f"{p}/cosellAssets/{cosell['id']}")
    call("PUT", f"{p}/cosellAssets/{cosell['id']}", json=one.json(), headers=etag(one))
    call("DELETE", f"{p}/cosellAssets/{cosell['id']}")
    call("GET", f"{p}/cosellListing/getByInstanceID(instanceID={listing_instance})")
    one = call("GET", f"{p}/cosellListing/{listing_instance}")
    call("PUT", f"{p}/cosellListing/{listing_instance}", json=one.json(), headers=etag(one))
    call(
        "POST",
        f"{p}/leadconfiguration",
        json={"resourceType": "AzureBlobLeadConfiguration", "contactEmail": "a@example.com"},
    )
    call("GET", f"{p}/leadconfiguration")
    call(
        "POST",
        f"{p}/resellerConfiguration",
        json={"resourceType": "ResellerConfiguration", "resellerChannelState": "Enabled"},
    )
    call("GET", f"{p}/resellerConfiguration")
    call("GET", f"{p}/supplementalcontents/getByInstanceID(instanceID={listing_instance})")
    one = call("GET", f"{p}/supplementalContents/{listing_instance}")
    call("PUT", f"{p}/supplementalContents/{listing_instance}", json=one.json(), headers=etag(one))
    call("POST", f"{p}/supplementalContents/{listing_instance}/commit")
    package = call(
        "POST",
        f"{p}/packages",
        json={"resourceType": "AzureApplicationPackage", "fileName": "app.zip"},
    ).json()
    call("GET", f"{p}/packages")
    one = call("GET", f"{p}/packages/{package['id']}")
    call("PUT", f"{p}/packages/{package['id']}", json=one.json(), headers=etag(one))
    call("DELETE", f"{p}/packages/{package['id']}")
    refs = [{"type": m, "value": instance(m)} for m in ("Listing", "ResellerConfiguration")]
    sub = call(
        "POST",
        f"{p}/submissions",
        json={
            "resourceType": "SubmissionCreationRequest",
            "targets": [{"type": "Scope", "value": "preview"}],
            "resources": refs,
        },
    ).json()
    s = f"{p}/submissions/{sub['id']}"
    call("GET", f"{p}/submissions")
    call("GET", s)
    call("GET", f"{s}/validations")
    call("GET", f"{s}/reports")
    call("GET", f"{s}/workflowdetails")
    call("POST", f"{s}/promote")  # refused: not ready; still served
    call("DELETE", s)
    call("DELETE", f"{p}/variants/{vid}")
    call("DELETE", p)
    documented = {
        (m.upper(), t)
        for t, item in call.doc["paths"].items()
        for m in item
        if m in ("get", "put", "post", "delete", "patch")
    }
    assert documented - call.served == set()
    assert len(documented) == 78


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Ops", "externalIDs": "ops-offer"},
        {"name": "Ops", "externalIDs": [7]},
        {"name": ["Ops"], "externalIDs": [{"type": "AzureOfferId", "value": "ops-offer"}]},
        {"name": "Ops", "externalIDs": [{"type": "AzureOfferId", "value": {"a": 1}}]},
        {
            "name": "Ops",
            "resourceType": 5,
            "externalIDs": [{"type": "AzureOfferId", "value": "ops-offer"}],
        },
    ],
)
def test_a_product_body_of_another_shape_is_a_400(sim: Simulator, body: dict[str, Any]) -> None:
    """The simulator raised on these (a 500, which a client retries as transient) or made an
    offer whose name or id was no string."""
    answer = Caller(sim)("POST", "products", json=body)
    assert answer.status_code == 400, answer.text
    assert not any(p.offer_id == "ops-offer" for p in sim.world.products.values())
