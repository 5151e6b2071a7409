"""The simulator's submissions as a publisher's client sees them: the state machine to live,
one in flight per product, validation and certification failures, and the certification
times a test can script or end."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from pcsim.app import Simulator
from pcsim.world import Product
from tests.conftest import BASE
from tests.unit.sim_calls import submit


def test_submission_state_machine_and_one_in_flight(
    http: httpx.Client, product: Product, sim: Simulator
) -> None:
    created = submit(http, product)
    assert created.status_code == 202  # as seen live; the document says 201
    assert created.headers["Request-ID"] and created.headers["ms-correlation-x"]
    sid = created.json()["id"]
    url = f"products/{product.id}/submissions/{sid}"
    seen = []
    for step in (0, 2, 30):
        sim.world.clock.offset += step
        body = http.get(url).json()
        seen.append((body["state"], body["substate"]))
        if step == 2:
            conflict = submit(http, product)
            assert conflict.status_code == 409
            assert sid in conflict.json()
            assert http.post(f"{url}/promote").status_code == 409  # preview not ready
    assert seen == [
        ("InProgress", "InDraft"),
        ("InProgress", "Submitted"),
        ("Published", "ReadyToPublish"),
    ]
    flows = http.get(f"{url}/workflowdetails")
    assert flows.status_code == 404  # live, while the preview waits for its promote
    sim.live.workflow_404_in_preview = False
    flows = http.get(f"{url}/workflowdetails").json()["value"]
    assert [(f["targetEnvironment"], f["state"]) for f in flows] == [
        ("Preview", "Success"),
        ("Live", "NotStarted"),  # both entries from the start, as clients expect
    ]
    assert all("startDateTimeInUtc" in f and "completeDateTimeInUtc" in f for f in flows)
    assert http.post(f"{url}/promote").status_code == 200
    assert http.get(url).json()["substate"] == "Publishing"
    sim.world.clock.offset += 30
    assert http.get(url).json()["substate"] == "InStore"
    flows = http.get(f"{url}/workflowdetails").json()["value"]
    assert [f["targetEnvironment"] for f in flows] == ["Preview", "Live"]
    assert http.get(f"{url}/reports").json()["value"][0]["status"] == "Passed"


def test_submission_refuses_instances_of_another_product(
    http: httpx.Client, product: Product
) -> None:
    bad = http.post(
        f"products/{product.id}/submissions",
        json={"resources": [{"type": "Listing", "value": "not-an-instance"}]},
    )
    assert bad.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        {"resources": 7},
        {"resources": [None]},
        {"resources": "Listing"},
        {"variantResources": [3]},
        {"variantResources": [{"variantID": "p", "resources": {"a": 1}}]},
        {"variantResources": None, "resources": [[]]},
    ],
)
def test_a_submission_body_of_another_shape_is_a_400(
    http: httpx.Client, product: Product, body: dict[str, Any]
) -> None:
    """As the service's model binding answers: the simulator raised a TypeError or an
    AttributeError, a 500 a client takes for a transient fault and retries."""
    bad = http.post(f"products/{product.id}/submissions", json=body)
    assert bad.status_code == 400
    assert "something other than objects" in bad.text


@pytest.mark.parametrize("refs", [5, [1], ["x"], [[]]])
def test_package_references_of_another_shape_are_a_400(
    http: httpx.Client, product: Product, refs: Any
) -> None:
    pid = product.id
    branch = http.get(f"products/{pid}/branches/getByModule(module=Package)").json()["value"][0]
    inst = branch["currentDraftInstanceID"]
    [config] = http.get(
        f"products/{pid}/packageConfigurations/getByInstanceID(instanceID={inst})"
    ).json()["value"]
    put = http.put(
        f"products/{pid}/packageConfigurations/{config['id']}",
        json={**config, "packageReferences": refs},
        headers={"If-Match": config["@odata.etag"]},
    )
    assert put.status_code == 400 and "something other than objects" in put.text


def test_validation_and_certification_failures(
    http: httpx.Client, product: Product, sim: Simulator
) -> None:
    product.script.validation_failure = True
    sub = submit(http, product).json()
    assert (sub["state"], sub["substate"]) == ("InProgress", "InDraft")
    assert sub["pendingUpdateInfo"]["status"] == "Failed"
    url = f"products/{product.id}/submissions/{sub['id']}"
    assert http.get(f"{url}/validations").json()["value"][0]["errorCode"]
    assert http.get(f"{url}/workflowdetails").json()["value"] == []
    product.script.validation_failure = False
    product.script.certification_failure = True
    stuck = submit(http, product)  # live: a failed draft blocks until it is deleted
    assert stuck.status_code == 409
    assert sub["id"] in stuck.json()
    assert http.delete(url).status_code == 204
    sub = submit(http, product).json()
    sim.world.clock.offset += 60
    url = f"products/{product.id}/submissions/{sub['id']}"
    assert http.get(url).json()["substate"] == "FailedInCertification"
    assert http.get(f"{url}/reports").json()["value"][0]["status"] == "Failed"


def test_a_submission_without_the_reseller_module_fails_validation(
    http: httpx.Client, product: Product, sim: Simulator
) -> None:
    branches = http.get(
        f"products/{product.id}/branches/getByModule(module=ResellerConfiguration)"
    ).json()["value"]
    assert [b["module"] for b in branches] == ["ResellerConfiguration"]
    listing = http.get(f"products/{product.id}/branches/getByModule(module=Listing)").json()
    instance = next(b for b in listing["value"] if "variantID" not in b)
    sub = http.post(
        f"products/{product.id}/submissions",
        json={
            "resourceType": "SubmissionCreationRequest",
            "targets": [{"type": "Scope", "value": "preview"}],
            "resources": [{"type": "Listing", "value": instance["currentDraftInstanceID"]}],
        },
    ).json()
    assert sub["pendingUpdateInfo"]["status"] == "Failed"
    items = http.get(f"products/{product.id}/submissions/{sub['id']}/validations").json()
    assert items["value"][0]["errorCode"] == "Resell-20007"


def test_an_offer_scripted_with_its_own_certification_time_is_certified_in_it(
    http: httpx.Client, product: Product, sim: Simulator
) -> None:
    admin = httpx.Client(transport=httpx.MockTransport(sim.transport), base_url=BASE)
    scripted = admin.put(f"/_admin/products/{product.id}/script", json={"certificationSeconds": 30})
    assert scripted.json()["certification_seconds"] == 30
    other = next(p for p in sim.world.products.values() if p.id != product.id)
    subs = {p.id: submit(http, p).json()["id"] for p in (product, other)}

    def substate(p: Product) -> str:
        got: str = http.get(f"products/{p.id}/submissions/{subs[p.id]}").json()["substate"]
        return got

    sim.world.clock.offset += 12  # past the profile's accept (1) and certify (10)
    assert substate(other) == "ReadyToPublish"
    assert substate(product) == "Submitted"
    sim.world.clock.offset += 20
    assert substate(product) == "ReadyToPublish"


def test_a_malformed_admin_body_is_refused_with_its_reason(
    product: Product, sim: Simulator
) -> None:
    """The admin API answers a test's bad body with 400 and why, not a 500 from a traceback,
    and leaves what it was asked to change as it was."""
    admin = httpx.Client(transport=httpx.MockTransport(sim.transport), base_url=BASE)
    before = product.script
    for path, body in (
        (f"/_admin/products/{product.id}/script", {"certificationSeconds": "soon"}),
        ("/_admin/timings", {"certify": [1]}),
        ("/_admin/tokens", {}),
    ):
        answer = admin.put(path, json=body)
        assert answer.status_code == 400, path
        assert "bad admin request" in answer.json()
    assert product.script is before
    bad_json = admin.put("/_admin/paging", content=b"{not json")
    assert bad_json.status_code == 400


def test_a_certification_ends_when_a_test_says_it_does(
    http: httpx.Client, product: Product, sim: Simulator
) -> None:
    admin = httpx.Client(transport=httpx.MockTransport(sim.transport), base_url=BASE)
    ended = f"/_admin/products/{product.id}/certified"
    assert admin.post(ended).status_code == 409  # nothing in certification
    admin.put(f"/_admin/products/{product.id}/script", json={"certificationHang": True})
    sub = submit(http, product).json()["id"]
    url = f"products/{product.id}/submissions/{sub}"
    sim.world.clock.offset += 1800
    assert http.get(url).json()["substate"] == "Submitted"  # long past the profile's 11 s
    assert admin.post(ended).json() == {"submission": sub}
    assert http.get(url).json()["substate"] == "ReadyToPublish"
    assert admin.post(ended).status_code == 409
