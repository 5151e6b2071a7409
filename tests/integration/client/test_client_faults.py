"""The Partner Center client under every failure the simulator injects, over real sockets
with the real SDKs: each survived, or reported as its typed error (its tokens are tested in
test_client_tokens)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from pcsim.admin import SimulatorClient
from shared.credentials import PartnerCenterTokens
from shared.ledger import Run, RunStatus
from shared.messages import Stage
from shared.partnercenter.client import PartnerCenterClient
from shared.partnercenter.errors import (
    BadRequest,
    Conflict,
    MalformedAnswer,
    PreconditionFailed,
    ServerError,
    Throttled,
    TransportError,
)
from shared.partnercenter.models import Product
from shared.pipeline.outcomes import Advance, Checkpoint, Wait
from shared.pipeline.stages import StageDeps, resolve, submit_preview
from shared.settings import Settings
from shared.vault import KeyVaultSecret
from tests.integration.client.parts import calls, make


def test_429_with_retry_after_is_waited_out(
    pc: PartnerCenterClient, admin: SimulatorClient, offer: dict[str, Any]
) -> None:
    since = len(admin.requests())
    admin.set_faults(rules=[{"path": offer["id"] + "$", "status": 429, "retryAfter": "1"}])
    started = time.monotonic()
    assert pc.get_product(offer["id"]).id == offer["id"]
    assert time.monotonic() - started >= 1.0
    assert calls(admin, "GET", offer["id"], since) == [429, 200]


def test_429_without_retry_after_backs_off(
    pc: PartnerCenterClient, admin: SimulatorClient, offer: dict[str, Any]
) -> None:
    since = len(admin.requests())
    admin.set_faults(rules=[{"path": offer["id"] + "$", "status": 429, "times": 2}])
    assert pc.get_product(offer["id"]).id == offer["id"]
    assert calls(admin, "GET", offer["id"], since) == [429, 429, 200]


def test_a_retry_after_longer_than_the_budget_is_handed_back(
    pc: PartnerCenterClient, admin: SimulatorClient, offer: dict[str, Any]
) -> None:
    admin.set_faults(rules=[{"path": offer["id"] + "$", "status": 429, "retryAfter": "120"}])
    with pytest.raises(Throttled) as caught:
        pc.get_product(offer["id"])
    assert caught.value.retry_after == 120  # the stage re-enqueues itself this much later


def test_a_get_answered_not_ready_is_asked_again_where_it_says(
    pc: PartnerCenterClient, admin: SimulatorClient, offer: dict[str, Any]
) -> None:
    """202 with a Location: the result is not ready, so the call asks there again after the
    Retry-After (read as it came, the empty answer was a malformed one, and the whole stage
    ran again a retry delay later). Past the call's budget it is that malformed answer."""
    since = len(admin.requests())
    not_ready = {"path": offer["id"] + "$", "notReady": True, "retryAfter": "1"}
    admin.set_faults(rules=[{**not_ready, "times": 2}])
    started = time.monotonic()
    assert pc.get_product(offer["id"]).id == offer["id"]
    assert time.monotonic() - started >= 2.0
    assert calls(admin, "GET", offer["id"], since) == [202, 202, 200]
    since = len(admin.requests())
    admin.set_faults(rules=[{**not_ready, "retryAfter": "120", "times": None}])
    with pytest.raises(MalformedAnswer):
        pc.get_product(offer["id"])
    assert calls(admin, "GET", offer["id"], since) == [202]


def test_503_burst_and_resets_are_retried_for_gets(
    pc: PartnerCenterClient, admin: SimulatorClient, offer: dict[str, Any]
) -> None:
    since = len(admin.requests())
    admin.set_faults(
        rules=[
            {"path": offer["id"] + "$", "status": 503, "times": 2},
            {"path": "/variants$", "reset": True, "times": 1},
        ]
    )
    assert pc.get_product(offer["id"]).id == offer["id"]
    assert [v.external_id for v in pc.variants(offer["id"])] == ["basic"]
    assert calls(admin, "GET", offer["id"], since) == [503, 503, 200]


def test_persistent_5xx_is_a_typed_error(
    pc: PartnerCenterClient, admin: SimulatorClient, offer: dict[str, Any]
) -> None:
    admin.set_faults(rules=[{"path": offer["id"] + "$", "status": 500, "times": None}])
    with pytest.raises(ServerError) as caught:
        pc.get_product(offer["id"])
    assert caught.value.transient
    assert caught.value.status == 500


def test_a_reset_post_is_not_repeated(
    pc: PartnerCenterClient, admin: SimulatorClient, offer: dict[str, Any]
) -> None:
    since = len(admin.requests())
    admin.set_faults(rules=[{"method": "POST", "path": "/submissions$", "reset": True}])
    with pytest.raises(TransportError):
        pc.create_submission(offer["id"], {"resourceType": "SubmissionCreationRequest"})
    assert len(calls(admin, "POST", "/submissions", since)) == 1


def test_a_timeout_after_a_create_that_happened_makes_no_second_submission(
    settings: Settings,
    parts: tuple[KeyVaultSecret, PartnerCenterTokens],
    admin: SimulatorClient,
    offer: dict[str, Any],
) -> None:
    client = make(settings, parts[1], timeout=httpx.Timeout(1.0))
    try:
        deps = StageDeps(pc=client, poll_seconds=1)
        run = Run(
            run_id="timeout-run",
            status=RunStatus.RUNNING,
            stage=Stage.RESOLVE,
            target="preview",
            product_id=offer["id"],
        )
        resolved = resolve(run, deps)
        assert isinstance(resolved, Advance)
        run = run.evolve(baseline_submission_id=resolved.patch.baseline_submission_id)
        since = len(admin.requests())
        admin.set_faults(
            rules=[{"method": "POST", "path": "/submissions$", "delay": 2.5, "after": True}]
        )
        checkpoint = submit_preview(run, deps)  # the intent, recorded before the call
        assert isinstance(checkpoint, Checkpoint)
        run = run.evolve(intents=checkpoint.patch.intents)
        with pytest.raises(TransportError):  # timed out: the outcome is unknown
            submit_preview(run.evolve(fresh=checkpoint.fresh), deps)
        outcome = submit_preview(run, deps)  # the redelivery reconciles: it finds ours
    finally:
        client.close()
    assert isinstance(outcome, Wait)
    assert outcome.patch.submission_id
    time.sleep(2.0)  # the delayed answer to the POST is logged when it is finally sent
    assert len(calls(admin, "POST", "/submissions", since)) == 1
    subs = admin.ingestion("GET", f"products/{offer['id']}/submissions").json()["value"]
    assert [s["id"] for s in subs] == [outcome.patch.submission_id]


def test_an_answer_trickled_past_its_bound_is_given_up_and_asked_again(
    settings: Settings,
    parts: tuple[KeyVaultSecret, PartnerCenterTokens],
    admin: SimulatorClient,
    offer: dict[str, Any],
) -> None:
    """Every read gets a few bytes, so no read times out: the bound on the whole answer
    ends it, and the GET is asked again. A trickle within the bound is read whole."""
    client = make(settings, parts[1], answer_seconds=1.0)
    path = offer["id"] + "$"
    try:
        since = len(admin.requests())
        admin.set_faults(rules=[{"method": "GET", "path": path, "trickle": 6}])
        started = time.monotonic()
        assert client.get_product(offer["id"]).id == offer["id"]
        assert time.monotonic() - started < 4  # not the trickle's 6 s
        assert len(calls(admin, "GET", offer["id"], since)) == 2
        since = len(admin.requests())
        admin.set_faults(rules=[{"method": "GET", "path": path, "trickle": 0.3}])
        assert client.get_product(offer["id"]).id == offer["id"]
        assert len(calls(admin, "GET", offer["id"], since)) == 1
    finally:
        client.close()


def test_stale_etag_is_typed_either_way(
    pc: PartnerCenterClient, admin: SimulatorClient, offer: dict[str, Any]
) -> None:
    branch = next(b for b in pc.branches(offer["id"], "Listing") if not b.variant_id)
    [listing] = pc.drafts(offer["id"], "listings", branch.current_draft_instance_id)
    updated = pc.put_draft(offer["id"], "listings", listing, {"title": "One"})
    assert updated.etag != listing.etag
    assert updated.body["title"] == "One"
    with pytest.raises(PreconditionFailed):
        pc.put_draft(offer["id"], "listings", listing, {"title": "Two"})
    admin.set_faults(staleEtagStatus=409)
    with pytest.raises(Conflict):
        pc.put_draft(offer["id"], "listings", listing, {"title": "Two"})


def test_error_body_shapes_reach_the_typed_error(
    pc: PartnerCenterClient, admin: SimulatorClient, offer: dict[str, Any]
) -> None:
    for style, expected in (("string", "Nope"), ("object", "BadRequest: Nope"), ("empty", "")):
        admin.set_faults(
            errorBody=style, rules=[{"path": offer["id"] + "$", "status": 400, "body": "Nope"}]
        )
        with pytest.raises(BadRequest) as caught:
            pc.get_product(offer["id"])
        assert caught.value.service_message == expected


def test_a_next_link_back_to_a_page_read_ends_the_listing_as_malformed(
    pc: PartnerCenterClient, admin: SimulatorClient, offer: dict[str, Any]
) -> None:
    """A service that answers every page with a link to the same next page: two calls, then
    a transient malformed answer the stage retries later, not a loop spending the budget."""
    since = len(admin.requests())
    again = f"v1.0/ingestion/products/{offer['id']}/submissions?$skipToken=again"
    rule = {"path": offer["id"] + "/submissions$", "method": "GET", "times": None}
    page = json.dumps({"value": [], "nextLink": again})
    admin.set_faults(rules=[{**rule, "after": True, "rawBody": page}])
    with pytest.raises(MalformedAnswer, match="names a page already read") as caught:
        pc.submissions(offer["id"])
    assert caught.value.transient
    assert calls(admin, "GET", offer["id"] + "/submissions", since) == [200, 200]


def test_a_next_link_that_404s_ends_the_listing(
    pc: PartnerCenterClient, admin: SimulatorClient
) -> None:
    admin.admin_put("paging", {"pageSize": 1})
    before = admin.set_live(offerListing="v1")  # the listing as documented, which pages
    try:
        assert len(list(pc._paged("products", Product))) > 1
        admin.set_faults(nextLink404=True)
        assert len(pc.find_products("contoso-analytics")) == 1
        assert len(list(pc._paged("products", Product))) == 1
    finally:
        admin.set_live(**before)
