"""The simulator's behaviour as a publisher's client sees it: drafts and ETags, packages, paging
and filters (auth and faults on demand: test_simulator_faults; submissions:
test_simulator_submissions)."""

from __future__ import annotations

from typing import Any

import httpx

from pcsim.app import Simulator
from pcsim.faults import Faults
from pcsim.world import Product
from tests.conftest import BASE, REFERENCE, SimTokens

API = f"{BASE}/v1.0/ingestion"


def draft_of(
    http: httpx.Client, product: Product, module: str, collection: str, plan: bool = False
) -> dict[str, Any]:
    branches = http.get(f"products/{product.id}/branches/getByModule(module={module})").json()
    branch = next(b for b in branches["value"] if ("variantID" in b) == plan)
    iid = branch["currentDraftInstanceID"]
    found = http.get(
        f"products/{product.id}/{collection}/getByInstanceID(instanceID={iid})",
        params={"$expand": "MarketStates,PriceSchedules,Trial"},
    ).json()
    value: dict[str, Any] = found["value"][0]
    return value


def test_draft_put_needs_the_current_etag(
    http: httpx.Client, product: Product, sim: Simulator
) -> None:
    listing = draft_of(http, product, "Listing", "listings")
    etag = listing["@odata.etag"]
    assert etag.startswith('"') and etag.endswith('"')
    url = f"products/{product.id}/listings/{listing['id']}"
    changed = {**listing, "title": "New title"}
    assert http.put(url, json=changed).status_code == 400  # no If-Match
    ok = http.put(url, json=changed, headers={"If-Match": etag})
    assert ok.status_code == 200
    assert ok.json()["title"] == "New title"
    assert ok.json()["@odata.etag"] != etag
    stale = http.put(url, json=changed, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert isinstance(stale.json(), str)  # the live service's string error body
    sim.faults = Faults(stale_etag_status=409)
    assert http.put(url, json=changed, headers={"If-Match": etag}).status_code == 409


def test_a_draft_keeps_its_type_when_a_put_leaves_it_out(
    http: httpx.Client, product: Product
) -> None:
    """A PUT without resourceType replaced the stored body whole; the next PUT's type check
    then raised a KeyError (a 500, which a client retries as transient)."""
    listing = draft_of(http, product, "Listing", "listings")
    url = f"products/{product.id}/listings/{listing['id']}"
    untyped = {k: v for k, v in listing.items() if k != "resourceType"}
    first = http.put(url, json=untyped, headers={"If-Match": "*"})
    assert first.status_code == 200 and first.json()["resourceType"] == "AzureListing"
    second = http.put(url, json={**untyped, "title": "T2"}, headers={"If-Match": "*"})
    assert second.status_code == 200 and second.json()["resourceType"] == "AzureListing"


def test_paths_and_property_names_are_case_insensitive(
    http: httpx.Client, product: Product
) -> None:
    prop = draft_of(http, product, "Property", "properties")
    url = f"PRODUCTS/{product.id}/Properties/{prop['id']}"
    ok = http.put(
        url,
        json={"ID": prop["id"], "ResourceType": "AzureProperty", "AppVersion": "2.0.0"},
        headers={"If-Match": prop["@odata.etag"]},
    )
    assert ok.status_code == 200
    assert ok.json()["appVersion"] == "2.0.0"


def test_feature_availability_expand(http: httpx.Client, product: Product) -> None:
    branches = http.get(f"products/{product.id}/branches/getByModule(module=Availability)")
    iid = next(b for b in branches.json()["value"] if "variantID" in b)["currentDraftInstanceID"]
    url = f"products/{product.id}/featureAvailabilities/getByInstanceID(instanceID={iid})"
    bare = http.get(url).json()["value"][0]
    full = http.get(url, params={"$expand": "MarketStates,Trial"}).json()["value"][0]
    assert "marketStates" not in bare
    assert full["marketStates"] == [{"marketCode": "US", "state": "Enabled"}]
    assert "priceSchedules" not in full


def test_package_upload_and_processing(
    http: httpx.Client, product: Product, sim: Simulator
) -> None:
    created = http.post(
        f"products/{product.id}/packages",
        json={"resourceType": "AzureApplicationPackage", "fileName": "app.zip"},
    )
    assert created.status_code == 201
    pkg = created.json()
    assert pkg["state"] == "PendingUpload"
    url = f"products/{product.id}/packages/{pkg['id']}"
    assert http.put(url, json={**pkg, "state": "Uploaded"}).status_code == 400  # no file yet
    blob = httpx.Client(transport=httpx.MockTransport(sim.transport))  # no bearer token
    assert blob.put(pkg["fileSasUri"], content=b"zip").status_code == 400  # no blob type
    put = blob.put(
        pkg["fileSasUri"], content=b"PK\x03\x04", headers={"x-ms-blob-type": "BlockBlob"}
    )
    assert put.status_code == 201
    wrong_sig = pkg["fileSasUri"].replace("sig=", "sig=x")
    assert (
        blob.put(wrong_sig, content=b"x", headers={"x-ms-blob-type": "BlockBlob"}).status_code
        == 403
    )
    assert http.put(url, json={**pkg, "state": "Uploaded"}).json()["state"] == "InProcessing"
    config = draft_of(http, product, "Package", "packageConfigurations", plan=True)
    config_url = f"products/{product.id}/packageConfigurations/{config['id']}"
    refs = {
        **config,
        "packageReferences": [{"type": "AzureApplicationPackage", "value": pkg["id"]}],
    }
    early = http.put(config_url, json=refs, headers={"If-Match": config["@odata.etag"]})
    assert early.status_code == 400  # not processed yet
    sim.world.clock.offset += 60
    assert http.get(url).json()["state"] == "Processed"
    assert (
        http.put(config_url, json=refs, headers={"If-Match": config["@odata.etag"]}).status_code
        == 200
    )


def test_scripted_package_failure_has_validation_items(
    http: httpx.Client, product: Product, sim: Simulator
) -> None:
    product.script.package_failure = True
    pkg = http.post(f"products/{product.id}/packages", json={"fileName": "bad.zip"}).json()
    httpx.Client(transport=httpx.MockTransport(sim.transport)).put(
        pkg["fileSasUri"], content=b"x", headers={"x-ms-blob-type": "BlockBlob"}
    )
    http.put(f"products/{product.id}/packages/{pkg['id']}", json={"state": "Uploaded"})
    sim.world.clock.offset += 60
    failed = http.get(f"products/{product.id}/packages/{pkg['id']}").json()
    assert failed["state"] == "ProcessFailed"
    assert failed["validationItems"][0]["severity"] == "Error"


def test_paging_and_a_next_link_that_404s(http: httpx.Client, sim: Simulator) -> None:
    sim.live.offer_listing = "v1"  # the document's listing (live: migrated offers are hidden)
    sim.world.page_size = (len(sim.world.products) + 1) // 2  # two pages
    first = http.get("products").json()
    assert first["nextLink"].startswith("v1.0/ingestion/products?")
    assert "$skipToken=" in first["nextLink"]
    second = http.get(f"{BASE}/{first['nextLink']}").json()
    assert "nextLink" not in second
    assert len(first["value"]) + len(second["value"]) == len(sim.world.products)
    sim.faults = Faults(next_link_404=True)
    assert http.get(f"{BASE}/{first['nextLink']}").status_code == 404


def test_filters(http: httpx.Client, sim: Simulator) -> None:
    sim.live.offer_listing = "v1"
    flt = "ExternalIDs/Any(i:i/Type eq 'AzureOfferId' and i/Value eq 'contoso-backup')"
    assert len(http.get("products", params={"$filter": flt}).json()["value"]) == 1
    both = f"ResourceType eq 'AzureApplication' and {flt}"
    assert len(http.get("products", params={"$filter": both}).json()["value"]) == 1
    assert http.get("products", params={"$filter": "name eq 'x'"}).status_code == 400


def test_create_product_and_stats(http: httpx.Client, sim: Simulator) -> None:
    created = http.post(
        "products",
        json={
            "resourceType": "AzureApplication",
            "name": "New offer",
            "isModularPublishing": True,
            "externalIDs": [{"type": "AzureOfferID", "value": "new-offer"}],
        },
    )
    assert created.status_code == 201
    assert http.get(f"products/{created.json()['id']}/branches/getByModule(module=Listing)").json()[
        "value"
    ]
    stats = sim.stats()
    assert stats["calls"]["POST create_product"] == 1
    assert stats["peakConcurrency"] >= 1


def test_listing_images(http: httpx.Client, product: Product, sim: Simulator) -> None:
    listing = draft_of(http, product, "Listing", "listings")
    base = f"products/{product.id}/listings/{listing['id']}/images"
    created = http.post(
        base,
        json={
            "resourceType": "ListingImage",
            "fileName": "logo.png",
            "type": "AzureLogoLarge",
            "state": "PendingUpload",
            "order": 0,
        },
    )
    assert created.status_code == 201
    image = created.json()
    assert image["state"] == "PendingUpload"
    blob = httpx.Client(transport=httpx.MockTransport(sim.transport))
    assert (
        blob.put(
            image["fileSasUri"], content=b"\x89PNG", headers={"x-ms-blob-type": "BlockBlob"}
        ).status_code
        == 201
    )
    url = f"{base}/{image['id']}"
    assert http.put(url, json={**image, "state": "Uploaded"}).status_code == 400  # If-Match
    done = http.put(
        url, json={**image, "state": "Uploaded"}, headers={"If-Match": image["@odata.etag"]}
    )
    assert done.status_code == 200
    assert done.json()["state"] == "InProcessing"
    assert "fileSasUri" not in http.get(base).json()["value"][0]
    assert "fileSasUri" in http.get(base, params={"$expand": "FileSasUri"}).json()["value"][0]
    assert http.delete(url).status_code == 204
    assert http.get(base).json()["value"] == []


def test_the_2026_offer_lookup(http: httpx.Client, sim: Simulator) -> None:
    flt = "ExternalIDs/Any(i:i/Type eq 'AzureOfferId' and i/Value eq 'contoso-backup')"
    assert http.get("products", params={"$filter": flt}).json()["value"] == []  # migrated
    product = next(p for p in sim.world.products.values() if p.offer_id == "contoso-backup")
    assert http.get(f"products/{product.id}").status_code == 200  # by id: still works
    sim.live.offer_listing = "ich50400"
    refused = http.get("products", params={"$filter": flt})
    assert refused.status_code == 400
    assert refused.json().startswith("ICH50400")
    graph = SimTokens(sim, "https://graph.microsoft.com").token()
    lookup = httpx.Client(transport=httpx.MockTransport(sim.transport), base_url=BASE)
    found = lookup.get(
        "/rp/product-ingestion/product",
        params={"externalId": "contoso-backup"},
        headers={"Authorization": f"Bearer {graph}"},
    )
    assert [item["id"] for item in found.json()["value"]] == [f"product/{product.id}"]
    wrong_audience = lookup.get(
        "/rp/product-ingestion/product",
        params={"externalId": "contoso-backup"},
        headers={"Authorization": f"Bearer {SimTokens(sim).token()}"},
    )
    assert wrong_audience.status_code == 401


def test_links_use_the_host_the_client_called(sim: Simulator, product: Product) -> None:
    other = "https://127.0.0.1:8443"
    client = httpx.Client(transport=httpx.MockTransport(sim.transport), base_url=other)
    token = SimTokens(sim).token()
    created = client.post(
        f"/v1.0/ingestion/products/{product.id}/packages",
        json={"resourceType": "AzureApplicationPackage", "fileName": "app.zip"},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert created["fileSasUri"].startswith(other + "/")
    discovery = client.get(f"/{sim.world.tenant_id}/v2.0/.well-known/openid-configuration")
    assert discovery.json()["token_endpoint"].startswith(other + "/")
    assert sim.base_url == BASE  # outside a request: the configured base


def test_writes_are_validated_like_the_service_does(http: httpx.Client, product: Product) -> None:
    def config() -> httpx.Response:
        branches = http.get(f"products/{product.id}/branches/getByModule(module=Package)").json()
        instance = next(b for b in branches["value"] if b.get("variantID"))
        [found] = http.get(
            f"products/{product.id}/packageConfigurations/getByInstanceID("
            f"instanceID={instance['currentDraftInstanceID']})"
        ).json()["value"]
        return http.get(f"products/{product.id}/packageconfigurations/{found['id']}")

    current = config()
    url = f"products/{product.id}/packageconfigurations/{current.json()['id']}"
    headers = {"If-Match": current.json()["@odata.etag"]}
    bad_guid = http.put(url, json={**current.json(), "publicAzureTenantID": "me"}, headers=headers)
    assert bad_guid.status_code == 400
    assert "Enter a valid GUID" in bad_guid.json()
    if REFERENCE.exists():  # types and values, from the document
        wrong = http.put(url, json={**current.json(), "allowJitAccess": "maybe"}, headers=headers)
        assert wrong.status_code == 400
        assert "allowJitAccess" in wrong.json()
        # As the service's model binding does: "true" is read as true, and answered so.
        stringly = http.put(url, json={**current.json(), "allowJitAccess": "true"}, headers=headers)
        assert stringly.status_code == 200
        assert stringly.json()["allowJitAccess"] is True
    else:
        fine = http.put(url, json={**current.json(), "allowJitAccess": True}, headers=headers)
        assert fine.status_code == 200
        assert fine.json()["allowJitAccess"] is True


def test_answers_use_the_services_spelling(http: httpx.Client, product: Product) -> None:
    branches = http.get(f"products/{product.id}/branches/getByModule(module=Listing)").json()
    instance = next(b for b in branches["value"] if "variantID" not in b)
    [listing] = http.get(
        f"products/{product.id}/listings/getByInstanceID("
        f"instanceID={instance['currentDraftInstanceID']})"
    ).json()["value"]
    body = {k: v for k, v in listing.items() if k != "title"}
    answer = http.put(
        f"products/{product.id}/listings/{listing['id']}",
        json={**body, "Title": "Shouted", "PrivacyPolicyUri": "https://contoso.example/p"},
        headers={"If-Match": listing["@odata.etag"]},
    ).json()
    assert answer["title"] == "Shouted" and "Title" not in answer
    assert answer["privacyPolicyUri"] == "https://contoso.example/p"
