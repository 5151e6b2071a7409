"""The stages as data: each one against the in-process simulator, asserting on its outcome."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import httpx
import pytest

from pcsim.app import Simulator
from pcsim.faults import FaultRule, Faults
from shared.ledger import Run, RunStatus
from shared.messages import Stage
from shared.partnercenter.errors import MalformedAnswer, Throttled, TransportError
from shared.pipeline import stages
from shared.pipeline.drafts import NotApplied, instance_of, pick, write
from shared.pipeline.outcomes import Advance, Checkpoint, Failed, Finished, Outcome, Wait
from shared.pipeline.stages import STAGES, StageDeps
from shared.pipeline.submission_state import SubmissionCancelled, withdraw
from shared.publish_request import RequestRejected, parse_publish_request
from tests.conftest import SimFiles, SimTokens, crashed_after_call, make_client, settled

# The stages as the runner runs them: checkpoints recorded, the stage run again.
resolve = settled(stages.resolve)
upload_package = settled(stages.upload_package)
await_package = settled(stages.await_package)
update_draft = settled(stages.update_draft)
submit_preview = settled(stages.submit_preview)
await_preview = settled(stages.await_preview)
promote = settled(stages.promote)


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


def test_a_submission_in_flight_elsewhere_is_waited_for(sim: Simulator, deps: StageDeps) -> None:
    run = patched(new_run(), resolve(new_run(), deps))
    submit_preview(run, deps)
    outcome = resolve(new_run(), deps)
    assert isinstance(outcome, Wait)
    assert outcome.check is Stage.RESOLVE
    assert "in flight" in outcome.reason
    failing = resolve(new_run(), replace(deps, foreign_submission="fail"))
    assert isinstance(failing, Failed)
    assert "in flight" in failing.reason


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


CHANGES = {
    "listing": {"title": "Contoso Backup 2"},
    "properties": {"appVersion": "2.0.0"},
    "previewAudience": ["00000000-0000-0000-0000-000000000001"],
    "plans": {
        "basic": {
            "availability": {"markets": ["US", "CA"]},
            "technicalConfiguration": {"version": "2.0.0", "package": {"staged": "app.zip"}},
        }
    },
}


def run_with_changes(changes: dict[str, Any] = CHANGES) -> Run:
    return replace(new_run(), changes=changes)


def test_a_full_request_with_drafts_and_a_package(sim: Simulator, deps: StageDeps) -> None:
    files = SimFiles(sim)
    deps = replace(deps, files=files)
    run = run_with_changes()
    resolved = resolve(run, deps)
    assert isinstance(resolved, Advance)
    assert resolved.to is Stage.UPLOAD_PACKAGE
    run = patched(run, resolved)
    assert set(run.plans) == {"basic"}
    # The first delivery made its calls and died before recording them; the redelivery
    # finds the package by its run's name.
    crashed = crashed_after_call(stages.upload_package, run, deps)
    uploaded = upload_package(crashed, deps)
    assert isinstance(uploaded, Wait)
    assert uploaded.patch.packages and set(uploaded.patch.packages) == {"basic"}
    assert files.uploads == 1
    assert posts(sim, "/packages") == 1
    run = patched(run, uploaded)
    assert isinstance(await_package(run, deps), Wait)  # still processing
    sim.world.clock.offset += 30
    assert isinstance(await_package(run, deps), Advance)
    drafted = update_draft(run, deps)
    assert isinstance(drafted, Advance)
    assert drafted.patch.changed_modules == [
        "Availability",
        f"Availability@{run.plans['basic']}",
        "Listing",
        f"Package@{run.plans['basic']}",
        "Property",
    ]
    puts = sum(1 for r in sim.request_log() if r["method"] == "PUT")
    assert isinstance(update_draft(run, deps), Advance)  # nothing differs any more
    assert sum(1 for r in sim.request_log() if r["method"] == "PUT") == puts
    product = sim.world.products[run.product_id or ""]
    configs = [
        d
        for d in product.drafts.values()
        if d.collection == "packageconfigurations" and d.body.get("packageReferences")
    ]
    assert [c.body["version"] for c in configs] == ["2.0.0"]
    assert configs[0].body["packageReferences"][0]["value"] == run.packages["basic"]
    run = patched(run, drafted)
    submitted = submit_preview(run, deps)
    assert isinstance(submitted, Wait)
    request = product.submissions[-1].request
    assert sorted(r["type"] for r in request["resources"]) == [
        "Availability",
        "Listing",
        "Package",  # offer level, beside the plan's package
        "Property",
        "ResellerConfiguration",
    ]
    assert sorted(r["type"] for r in request["variantResources"][0]["resources"]) == [
        "Availability",
        "Package",
    ]


def test_unknown_plan_is_rejected(deps: StageDeps) -> None:
    outcome = resolve(run_with_changes({"plans": {"gold": {"listing": {"title": "x"}}}}), deps)
    assert isinstance(outcome, Failed)
    assert outcome.rejected
    assert "gold" in outcome.reason


def test_a_run_waits_for_the_offers_turn(deps: StageDeps) -> None:
    held = replace(deps, offer_lock=lambda product, run: "other-run")
    outcome = resolve(new_run(), held)
    assert isinstance(outcome, Wait)
    assert outcome.check is Stage.RESOLVE
    assert "other-run" in outcome.reason


def test_a_failed_package_says_why(sim: Simulator, deps: StageDeps) -> None:
    deps = replace(deps, files=SimFiles(sim))
    product = next(p for p in sim.world.products.values() if p.offer_id == "contoso-backup")
    product.script.package_failure = True
    run = patched(run_with_changes(), resolve(run_with_changes(), deps))
    run = patched(run, upload_package(run, deps))
    sim.world.clock.offset += 30
    outcome = await_package(run, deps)
    assert isinstance(outcome, Failed)
    assert "mainTemplate.json" in outcome.reason


def test_a_stale_etag_is_read_again(sim: Simulator, deps: StageDeps) -> None:
    run = patched(
        run_with_changes({"listing": {"title": "Mine"}}),
        resolve(run_with_changes({"listing": {"title": "Mine"}}), deps),
    )
    sim.faults = Faults(rules=[FaultRule(method="PUT", path="/listings/", status=412)])
    outcome = update_draft(run, deps)
    assert isinstance(outcome, Advance)
    assert outcome.patch.changed_modules == ["Listing"]
    assert [r["status"] for r in sim.request_log() if r["method"] == "PUT"] == [412, 200]


def test_an_empty_answer_after_the_create_is_reconciled_not_repeated(
    sim: Simulator, deps: StageDeps
) -> None:
    run = patched(new_run(), resolve(new_run(), deps))
    sim.faults = Faults(
        rules=[FaultRule(method="POST", path="/submissions$", after=True, raw_body="")]
    )
    checkpoint = stages.submit_preview(run, deps)
    assert isinstance(checkpoint, Checkpoint)
    recorded = replace(run, intents=checkpoint.patch.intents or {})  # as the ledger has it
    with pytest.raises(MalformedAnswer):  # transient: the runner retries the stage later
        stages.submit_preview(replace(recorded, fresh=checkpoint.fresh), deps)
    assert posts(sim, "/submissions") == 1
    outcome = submit_preview(recorded, deps)
    assert isinstance(outcome, Wait)
    assert outcome.patch.submission_id == sim.world.products[run.product_id or ""].submissions[0].id
    assert posts(sim, "/submissions") == 1


def test_a_submission_someone_else_started_is_never_adopted(
    sim: Simulator, deps: StageDeps
) -> None:
    run = patched(new_run(), resolve(new_run(), deps))
    # A person submits in Partner Center after resolve, before our create.
    theirs = stages.submit_preview(
        replace(new_run(), run_id="person", product_id=run.product_id), deps
    )
    assert isinstance(theirs, Checkpoint)
    person = settled(stages.submit_preview)(replace(run, run_id="person"), deps)
    assert isinstance(person, Wait)
    outcome = submit_preview(run, deps)
    assert isinstance(outcome, Wait)
    assert outcome.check is Stage.SUBMIT_PREVIEW  # waits; does not take it over
    assert outcome.patch.submission_id is None
    assert f"submission {person.patch.submission_id}" in outcome.reason
    assert "started elsewhere" in outcome.reason
    failing = submit_preview(run, replace(deps, foreign_submission="fail"))
    assert isinstance(failing, Failed)
    assert person.patch.submission_id and person.patch.submission_id in failing.reason
    # And nothing of theirs can be promoted by this run.
    stolen = promote(replace(run, submission_id=person.patch.submission_id), deps)
    assert isinstance(stolen, Failed)
    assert "not one this run created" in stolen.reason
    assert posts(sim, "/promote") == 0


def test_a_redelivered_draft_stage_submits_the_same_modules(
    sim: Simulator, deps: StageDeps
) -> None:
    changes = {"listing": {"title": "Mine again"}}
    run = patched(run_with_changes(changes), resolve(run_with_changes(changes), deps))
    # The first delivery wrote the listing and died before recording the outcome.
    crashed = crashed_after_call(stages.update_draft, run, deps)
    assert crashed.planned_modules == ["Listing"]
    outcome = update_draft(crashed, deps)  # finds its own edit already in the draft
    assert isinstance(outcome, Advance)
    assert outcome.patch.changed_modules == ["Listing"]  # not "every module"


def test_a_run_ended_early_deletes_its_own_submission_only(sim: Simulator, deps: StageDeps) -> None:
    run = patched(new_run(), resolve(new_run(), deps))
    run = patched(run, submit_preview(run, deps))
    product = sim.world.products[run.product_id or ""]
    assert withdraw(replace(run, intents={}), deps) == ""  # not proven ours: left alone
    assert len(product.submissions) == 1
    note = withdraw(run, deps)
    assert f"submission {run.submission_id}" in note and "was deleted" in note
    assert product.submissions == []


def test_a_submission_deleted_in_partner_center_cancels_the_run(
    sim: Simulator, deps: StageDeps
) -> None:
    run = patched(new_run(), resolve(new_run(), deps))
    run = patched(run, submit_preview(run, deps))
    sim.world.products[run.product_id or ""].submissions.clear()  # cancelled by a person
    with pytest.raises(SubmissionCancelled, match="cancelled in Partner Center"):
        await_preview(run, deps)


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


def test_our_own_failed_draft_is_deleted_so_it_blocks_nothing(
    sim: Simulator, deps: StageDeps
) -> None:
    product = next(p for p in sim.world.products.values() if p.offer_id == "contoso-backup")
    product.script.validation_failure = True
    run = patched(new_run(), resolve(new_run(), deps))
    run = patched(run, submit_preview(run, deps))
    outcome = await_preview(run, deps)
    assert isinstance(outcome, Failed)
    assert "ListingContactMissing" in outcome.reason
    assert "was deleted so it does not block the offer" in outcome.reason
    assert product.submissions == []
    product.script.validation_failure = False
    assert isinstance(resolve(new_run(), deps), Advance)


@pytest.mark.parametrize("policy", ["wait", "fail", "delete"])
def test_a_stuck_draft_started_elsewhere(sim: Simulator, deps: StageDeps, policy: str) -> None:
    product = next(p for p in sim.world.products.values() if p.offer_id == "contoso-backup")
    product.script.validation_failure = True
    person = settled(stages.submit_preview)(
        patched(replace(new_run(), run_id="person"), resolve(new_run(), deps)), deps
    )
    assert isinstance(person, Wait)
    product.script.validation_failure = False
    stuck_id = person.patch.submission_id or ""
    outcome = resolve(new_run(), replace(deps, foreign_submission=policy))  # type: ignore[arg-type]
    if policy == "delete":
        assert isinstance(outcome, Advance)
        assert [s.id for s in product.submissions] == []
        return
    assert isinstance(outcome, Wait if policy == "wait" else Failed)
    assert f"submission {stuck_id}" in outcome.reason
    assert "failed validation" in outcome.reason
    assert "PC_FOREIGN_SUBMISSION=delete" in outcome.reason


def test_market_changes_are_sent_with_expand_and_read_back(sim: Simulator, deps: StageDeps) -> None:
    changes = {"plans": {"basic": {"availability": {"markets": ["US", "FR"]}}}}
    run = patched(run_with_changes(changes), resolve(run_with_changes(changes), deps))
    assert isinstance(update_draft(run, deps), Advance)
    product = sim.world.products[run.product_id or ""]
    [availability] = [
        d
        for d in product.drafts.values()
        if d.collection == "featureavailabilities" and d.body.get("marketStates")
    ]
    enabled = {
        m["marketCode"] for m in availability.body["marketStates"] if m["state"] == "Enabled"
    }
    assert enabled == {"US", "FR"}
    puts = [
        r
        for r in sim.request_log()
        if r["method"] == "PUT" and "featureavailabilities" in r["path"]
    ]
    assert all("MarketStates" in r["query"] for r in puts)


def test_a_silently_ignored_write_is_never_a_success(sim: Simulator, deps: StageDeps) -> None:
    run = patched(new_run(), resolve(new_run(), deps))
    variant = next(iter(sim.world.products[run.product_id or ""].variants)).id
    instance = instance_of(deps.pc, run.product_id or "", "Availability", variant)
    current = pick(deps.pc.drafts(run.product_id or "", "featureavailabilities", instance))
    assert current is not None
    wanted = {"marketStates": [{"marketCode": "DE", "state": "Enabled"}]}
    with pytest.raises(NotApplied, match="did not store marketStates"):
        # As a client that leaves $expand off the PUT: the live service answers 200 and
        # keeps the old markets.
        write(
            deps.pc, run.product_id or "", "featureavailabilities", instance, current, wanted, None
        )


def test_a_submission_an_earlier_run_left_behind_is_known_as_ours(
    sim: Simulator, deps: StageDeps
) -> None:
    product = next(p for p in sim.world.products.values() if p.offer_id == "contoso-backup")
    first = patched(new_run(), resolve(new_run(), deps))
    first = patched(first, submit_preview(first, deps))  # then the run died, say
    left = first.submission_id or ""
    running = replace(deps, submission_owner=lambda pid, sid: ("r-1", False))
    waiting = resolve(replace(new_run(), run_id="r-2"), running)
    assert isinstance(waiting, Wait)
    assert f"submission {left} of pc-publisher run r-1" in waiting.reason
    assert "started elsewhere" not in waiting.reason
    over = replace(deps, submission_owner=lambda pid, sid: ("r-1", True))
    assert isinstance(resolve(replace(new_run(), run_id="r-2"), over), Advance)
    assert [s.id for s in product.submissions] == []  # ours, abandoned: deleted


def test_listings_in_several_languages_are_added_then_kept(sim: Simulator, deps: StageDeps) -> None:
    changes = {
        "listing": {"title": "Contoso Backup"},
        "listings": {"de-de": {"title": "Contoso Sicherung"}, "fr-fr": {"title": "Sauvegarde"}},
    }
    run = patched(run_with_changes(changes), resolve(run_with_changes(changes), deps))
    drafted = update_draft(run, deps)
    assert isinstance(drafted, Advance)
    assert drafted.patch.changed_modules == ["Listing"]  # listed once, whatever the languages
    instance = instance_of(deps.pc, run.product_id or "", "Listing", None)
    titles = {
        d.body["languageCode"]: d.body["title"]
        for d in deps.pc.drafts(run.product_id or "", "listings", instance)
    }
    assert titles == {
        "en-us": "Contoso Backup",
        "de-de": "Contoso Sicherung",
        "fr-fr": "Sauvegarde",
    }
    assert posts(sim, ")") == 2  # two languages created, en-us updated in place
    again = update_draft(run, deps)
    assert isinstance(again, Advance)
    assert again.patch.changed_modules == []
    assert posts(sim, ")") == 2


def test_a_request_names_the_en_us_listing_once() -> None:
    body: dict[str, Any] = {
        "schemaVersion": 1,
        "requestId": "r-1",
        "offer": {"externalId": "contoso-backup"},
        "target": "live",
        "changes": {"listing": {"title": "a"}, "listings": {"en-us": {"title": "b"}}},
    }
    with pytest.raises(RequestRejected, match="en-us listing once"):
        parse_publish_request(json.dumps(body))
    body["changes"] = {"listings": {"EN": {"title": "b"}}}
    with pytest.raises(RequestRejected):
        parse_publish_request(json.dumps(body))
