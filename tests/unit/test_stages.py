"""The stages as data: each one against the in-process simulator, asserting on its outcome."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from pcpub.simulator.app import Simulator
from shared.ledger import Run, RunStatus
from shared.messages import Stage
from shared.partnercenter.errors import Throttled
from shared.pipeline.outcomes import Advance, Failed, Outcome, Wait
from shared.pipeline.stages import (
    STAGES,
    StageDeps,
    await_preview,
    promote,
    resolve,
    submit_preview,
)
from tests.conftest import SimTokens, make_client


def new_run(target: str = "live", **kw: str) -> Run:
    fields = {"offer_external_id": "contoso-backup", **kw}
    return Run(run_id="r-1", status=RunStatus.RUNNING, stage=Stage.RESOLVE, target=target, **fields)  # type: ignore[arg-type]


def patched(run: Run, outcome: Outcome) -> Run:
    patch = getattr(outcome, "patch", None)
    changes = {k: v for k, v in vars(patch).items() if v is not None} if patch else {}
    return replace(run, **changes)


def posts(sim: Simulator, suffix: str) -> int:
    return sum(1 for r in sim.request_log() if r["method"] == "POST" and r["path"].endswith(suffix))


def test_resolve_finds_the_product_by_offer_id(sim: Simulator, deps: StageDeps) -> None:
    outcome = resolve(new_run(), deps)
    assert isinstance(outcome, Advance)
    assert outcome.to is Stage.SUBMIT_PREVIEW
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
    first = submit_preview(run, deps)
    second = submit_preview(run, deps)  # a redelivered message
    assert isinstance(first, Wait)
    assert isinstance(second, Wait)
    assert first.patch.submission_id == second.patch.submission_id
    assert posts(sim, "/submissions") == 1
    request = sim.world.products[run.product_id or ""].submissions[0].request
    assert {r["type"] for r in request["resources"]} == {"Availability", "Listing", "Property"}
    assert len(request["variantResources"]) == 1


def test_a_submission_in_flight_blocks_a_new_run(sim: Simulator, deps: StageDeps) -> None:
    run = patched(new_run(), resolve(new_run(), deps))
    submit_preview(run, deps)
    outcome = resolve(new_run(), deps)
    assert isinstance(outcome, Failed)
    assert "already in flight" in outcome.reason


def test_full_sequence_to_live(sim: Simulator, deps: StageDeps) -> None:
    run = new_run()
    stage = Stage.RESOLVE
    seen = []
    for _ in range(20):
        outcome = STAGES[stage](run, deps)
        run = patched(run, outcome)
        seen.append(stage)
        if isinstance(outcome, Advance):
            stage = outcome.to
        elif isinstance(outcome, Wait):
            stage = outcome.check
            sim.world.clock.offset += 4
        else:
            break
    assert seen[-1] is Stage.COMPLETE
    assert [s for s in dict.fromkeys(seen)] == [
        Stage.RESOLVE,
        Stage.SUBMIT_PREVIEW,
        Stage.AWAIT_PREVIEW,
        Stage.PROMOTE,
        Stage.AWAIT_LIVE,
        Stage.COMPLETE,
    ]
    assert run.pc_status == "Published/InStore"
    assert posts(sim, "/promote") == 1


def test_preview_target_completes_without_promote(sim: Simulator, deps: StageDeps) -> None:
    run = patched(new_run("preview"), resolve(new_run("preview"), deps))
    run = patched(run, submit_preview(run, deps))
    sim.world.clock.offset += 30
    outcome = await_preview(run, deps)
    assert isinstance(outcome, Advance)
    assert outcome.to is Stage.COMPLETE
    assert posts(sim, "/promote") == 0


def test_promote_is_not_repeated(sim: Simulator, deps: StageDeps) -> None:
    run = patched(new_run(), resolve(new_run(), deps))
    run = patched(run, submit_preview(run, deps))
    early = promote(run, deps)  # preview not ready: wait, don't call promote
    assert isinstance(early, Wait)
    assert early.check is Stage.AWAIT_PREVIEW
    sim.world.clock.offset += 30
    assert isinstance(promote(run, deps), Wait)
    assert isinstance(promote(run, deps), Wait)  # redelivered
    assert posts(sim, "/promote") == 1


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
