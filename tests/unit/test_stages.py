"""The stages as data: each one against the in-process simulator, asserting on its outcome
(drafts and packages: test_draft_stages; submissions met in Partner Center:
test_submission_stages)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import httpx
import pytest

from pcsim.app import Simulator
from shared.ledger import StageRecord, now_utc, stamp
from shared.messages import Stage
from shared.partnercenter.errors import Throttled, TransportError
from shared.pipeline import stages
from shared.pipeline.outcomes import Advance, Failed, Finished, Wait
from shared.pipeline.stages import STAGES, StageDeps
from tests.conftest import SimTokens, crashed_after_call, make_client, settled
from tests.unit.stage_runs import (
    await_preview,
    new_run,
    patched,
    posts,
    promote,
    resolve,
    submit_preview,
)


def test_resolve_finds_the_product_by_offer_id(sim: Simulator, deps: StageDeps) -> None:
    outcome = resolve(new_run(), deps)
    assert isinstance(outcome, Advance)
    # Nothing to bring to the draft: straight to the submission, of every module's draft.
    assert outcome.to is Stage.SUBMIT_PREVIEW
    assert outcome.patch.planned_modules == [] and outcome.patch.changed_modules == []
    product = next(p for p in sim.world.products.values() if p.offer_id == "contoso-backup")
    assert outcome.patch.product_id == product.id
    assert outcome.patch.baseline_submission_id == ""


def test_resolve_fails_for_an_unknown_offer(deps: StageDeps) -> None:
    outcome = resolve(new_run(offer_external_id="nope"), deps)
    assert isinstance(outcome, Failed)
    assert "unknown offer" in outcome.reason
    outcome = resolve(new_run(product_id="0000", offer_external_id=""), deps)
    assert isinstance(outcome, Failed)
    assert "no product 0000" in outcome.reason


def test_submit_twice_creates_one_submission(sim: Simulator, deps: StageDeps) -> None:
    run = patched(new_run(), resolve(new_run(), deps))
    # The first delivery made its call and died before recording the answer; the redelivery
    # reconciles with the submission that matches the recorded body.
    crashed = crashed_after_call(stages.submit_preview, run, deps)
    assert crashed.intents["submission"]["state"] == "sent"
    second = submit_preview(crashed, deps)
    assert isinstance(second, Wait)
    made = sim.world.products[run.product_id or ""].submissions[-1]
    assert second.patch.submission_id == made.id
    assert posts(sim, "/submissions") == 1
    request = sim.world.products[run.product_id or ""].submissions[0].request
    assert {r["type"] for r in request["resources"]} == {
        "Availability",
        "Listing",
        "Property",
        "Package",  # the offer-level branch, as Microsoft's CLIs submit it
        "ResellerConfiguration",
    }
    assert len(request["variantResources"]) == 1


HOUR = timedelta(hours=1)


def test_a_submission_in_flight_elsewhere_is_waited_for(sim: Simulator, deps: StageDeps) -> None:
    run = patched(new_run(), resolve(new_run(), deps))
    submit_preview(run, deps)
    outcome = resolve(new_run(), deps)
    assert isinstance(outcome, Wait)
    assert outcome.check is Stage.RESOLVE
    assert "in flight" in outcome.reason
    assert outcome.delay_seconds == deps.poll_seconds
    failing = resolve(new_run(), replace(deps, foreign_submission="fail"))
    assert isinstance(failing, Failed)
    assert "in flight" in failing.reason
    # Waited a thousand seconds already: the checks (each a read at Partner Center) thin out
    # to a tenth of the time waited, as status polls do, for a submission may certify for days.
    now = now_utc()
    waited = new_run().evolve(timeline=[StageRecord(stage="resolve", started=stamp(now - HOUR))])
    later = resolve(waited, replace(deps, now=lambda: now))
    assert isinstance(later, Wait) and later.check is Stage.RESOLVE
    assert later.delay_seconds == pytest.approx(HOUR.total_seconds() / 10)


def test_full_sequence_to_live(sim: Simulator, deps: StageDeps) -> None:
    run = new_run()
    stage = Stage.RESOLVE
    seen = []
    for _ in range(20):
        outcome = settled(STAGES[stage])(run, deps)
        run = patched(run, outcome)
        seen.append(stage)
        if isinstance(outcome, Advance):
            stage = outcome.to
        elif isinstance(outcome, Wait):
            stage = outcome.check
            sim.world.clock.offset += 4
        else:
            break
    # The check that reads the store's answer ends the run, at `complete`: no hop to it.
    assert isinstance(outcome, Finished)
    assert outcome.at is Stage.COMPLETE
    assert [s for s in dict.fromkeys(seen)] == [
        Stage.RESOLVE,
        Stage.SUBMIT_PREVIEW,
        Stage.AWAIT_PREVIEW,
        Stage.PROMOTE,
        Stage.AWAIT_LIVE,
    ]
    assert run.pc_status == "Published/InStore"
    assert posts(sim, "/promote") == 1


def test_preview_target_completes_without_promote(sim: Simulator, deps: StageDeps) -> None:
    run = patched(new_run("preview"), resolve(new_run("preview"), deps))
    run = patched(run, submit_preview(run, deps))
    sim.world.clock.offset += 30
    outcome = await_preview(run, deps)
    assert isinstance(outcome, Finished)
    assert outcome.at is Stage.COMPLETE
    assert posts(sim, "/promote") == 0


def test_promote_is_not_repeated(sim: Simulator, deps: StageDeps) -> None:
    run = patched(new_run(), resolve(new_run(), deps))
    run = patched(run, submit_preview(run, deps))
    early = promote(run, deps)  # refused as early: back to waiting for the preview
    assert isinstance(early, Wait)
    assert early.check is Stage.AWAIT_PREVIEW
    sim.world.clock.offset += 30
    done = promote(run, deps)
    again = promote(run, deps)  # redelivered: refused as repeated, read, and moved on
    assert isinstance(done, Wait) and isinstance(again, Wait)
    assert done.check is again.check is Stage.AWAIT_LIVE
    accepted = [
        r
        for r in sim.request_log()
        if r["method"] == "POST" and r["path"].endswith("/promote") and r["status"] < 400
    ]
    assert len(accepted) == 1


def test_certification_failure_says_why(sim: Simulator, deps: StageDeps) -> None:
    run = patched(new_run(), resolve(new_run(), deps))
    run = patched(run, submit_preview(run, deps))
    sim.world.products[run.product_id or ""].submissions[0].fail_certification = True
    sim.world.clock.offset += 30
    outcome = await_preview(run, deps)
    assert isinstance(outcome, Failed)
    assert "FailedInCertification" in outcome.reason
    assert "step 'Certification' Failed" in outcome.reason


def test_a_throttled_submit_is_left_to_retry(sim: Simulator, deps: StageDeps) -> None:
    run = patched(new_run(), resolve(new_run(), deps))

    def throttled(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(
                429, json="Request rate exceeds limit", headers={"Retry-After": "600"}
            )
        return sim.transport(request)

    client = make_client(throttled, SimTokens(sim))
    with pytest.raises(Throttled) as caught:
        submit_preview(run, StageDeps(pc=client))
    assert caught.value.transient
    assert caught.value.retry_after == 600
    assert client.sleeps == []  # type: ignore[attr-defined] # too long to wait in-process: left to a delayed redelivery
    assert posts(sim, "/submissions") == 0


@pytest.mark.parametrize("listing", ["empty", "ich50400", "v1"])
def test_resolve_finds_a_migrated_offer_whatever_the_listing_does(
    sim: Simulator, deps: StageDeps, listing: str
) -> None:
    sim.live.offer_listing = listing  # type: ignore[assignment]
    outcome = resolve(new_run(), deps)
    assert isinstance(outcome, Advance)
    product = next(p for p in sim.world.products.values() if p.offer_id == "contoso-backup")
    assert outcome.patch.product_id == product.id
    # Both asked at once, in one round trip: v1's answer stands where it has one.
    assert any("/rp/product-ingestion/" in r["path"] for r in sim.request_log())


class _LookupDown:
    def product_ids(self, offer_id: str) -> list[str]:
        raise TransportError("Graph unreachable")


@pytest.mark.parametrize("listing", ["empty", "v1"])
def test_a_lookup_that_fails_counts_only_when_v1_found_nothing(
    sim: Simulator, deps: StageDeps, listing: str
) -> None:
    sim.live.offer_listing = listing  # type: ignore[assignment]
    down = replace(deps, lookup=_LookupDown())
    if listing == "v1":
        assert isinstance(resolve(new_run(), down), Advance)
    else:
        with pytest.raises(TransportError, match="Graph unreachable"):
            resolve(new_run(), down)


def test_resolve_uses_the_product_an_earlier_run_found(sim: Simulator, deps: StageDeps) -> None:
    product = next(p for p in sim.world.products.values() if p.offer_id == "contoso-backup")
    remembered = replace(deps, known_product=lambda offer: product.id)
    outcome = resolve(new_run(), remembered)
    assert isinstance(outcome, Advance)
    assert outcome.patch.product_id == product.id
    assert not [r for r in sim.request_log() if r["path"].endswith("/products")]
    wrong = replace(deps, known_product=lambda offer: "00000000-0000-0000-0000-000000000000")
    assert isinstance(resolve(new_run(), wrong), Advance)  # a stale memory: looked up again
