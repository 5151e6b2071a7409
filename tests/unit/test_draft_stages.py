"""The stages that change an offer's drafts and packages before it is submitted, against the
in-process simulator: what a request asks for is written, read back and submitted."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from pcsim.app import Simulator
from pcsim.faults import FaultRule, Faults
from shared.ledger import Run
from shared.messages import Stage
from shared.packages import PackageSourceRefused
from shared.partnercenter.errors import MalformedAnswer
from shared.pipeline import stages
from shared.pipeline.drafts import NotApplied, instance_of, pick, write
from shared.pipeline.outcomes import Advance, Checkpoint, Failed, Wait
from shared.pipeline.stages import StageDeps
from shared.publish_request import PackageSource, RequestRejected, parse_publish_request
from tests.conftest import SimFiles, crashed_after_call
from tests.unit.stage_runs import (
    await_package,
    new_run,
    patched,
    posts,
    resolve,
    submit_preview,
    update_draft,
    upload_package,
)

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
    assert outcome.check is Stage.AWAIT_TURN  # asking the ledger alone (pipeline.turns)
    assert "other-run" in outcome.reason
    assert outcome.patch.product_id


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


def test_a_package_grown_past_its_limit_after_the_check_makes_no_package(
    sim: Simulator, deps: StageDeps
) -> None:
    class Grown(SimFiles):
        def check(self, source: PackageSource) -> int:
            return 10  # as it was when checked

        def read(self, source: PackageSource) -> bytes:
            raise PackageSourceRefused("grew past the limit of 16 bytes after it was checked")

    files = Grown(sim)
    deps = replace(deps, files=files)
    product = next(p for p in sim.world.products.values() if p.offer_id == "contoso-backup")
    before = set(product.packages)
    run = patched(run_with_changes(), resolve(run_with_changes(), deps))
    with pytest.raises(PackageSourceRefused, match="grew past the limit"):
        upload_package(run, deps)
    assert set(product.packages) == before and files.uploads == 0


def test_a_created_package_without_an_upload_uri_is_asked_again(
    sim: Simulator, deps: StageDeps
) -> None:
    """The create answer gives no fileSasUri (an assert raised a bug's error, poisoning the
    message): a malformed answer, retried; the retry finds the package made and uploads."""
    files = SimFiles(sim)
    deps = replace(deps, files=files)
    run = patched(run_with_changes(), resolve(run_with_changes(), deps))
    bare = {"resourceType": "AzureApplicationPackage", "id": "p-1", "state": "PendingUpload"}
    rule = FaultRule(
        method="POST", path="/packages$", after=True, status=201, raw_body=json.dumps(bare)
    )
    sim.faults = Faults(rules=[rule])
    intent = stages.upload_package(run, deps)  # recorded before the creation
    assert isinstance(intent, Checkpoint)
    attempt = replace(patched(run, intent), fresh=intent.fresh, memo=intent.memo)
    with pytest.raises(MalformedAnswer, match="no upload URI for plan basic") as caught:
        stages.upload_package(attempt, deps)
    assert caught.value.transient and files.uploads == 0
    retry = replace(attempt, fresh=(), memo=None)  # as the ledger holds it
    assert isinstance(upload_package(retry, deps), Wait | Advance)
    assert files.uploads == 1 and posts(sim, "/packages") == 1


@pytest.mark.parametrize(
    ("collection", "key", "value"),
    [
        ("featureavailabilities", "marketStates", "US"),  # AttributeError: str has no get
        ("featureavailabilities", "marketStates", [{"marketCode": None}, 7]),
        ("productavailabilities", "audiences", 5),  # TypeError: int is not iterable
    ],
)
def test_a_draft_of_another_shape_is_a_malformed_answer_naming_the_field(
    sim: Simulator, deps: StageDeps, collection: str, key: str, value: Any
) -> None:
    """A draft whose list of objects came as something else: retried with a reason that
    names the field, where a bug's error poisoned the message (or a market without a code
    broke the sort)."""
    sim.contract = None  # the service answers off its contract here, on purpose
    product = next(p for p in sim.world.products.values() if p.offer_id == "contoso-backup")
    for draft in product.drafts.values():
        if draft.collection == collection:
            draft.body[key] = value
    run = patched(run_with_changes(), resolve(run_with_changes(), deps))
    with pytest.raises(MalformedAnswer, match=f": {key} is not a list of objects") as caught:
        update_draft(replace(run, stage=Stage.UPDATE_DRAFT), deps)
    assert caught.value.transient


def test_a_market_without_a_code_is_left_out_of_the_comparison(
    sim: Simulator, deps: StageDeps
) -> None:
    sim.contract = None  # the service answers off its contract here, on purpose
    product = next(p for p in sim.world.products.values() if p.offer_id == "contoso-backup")
    for draft in product.drafts.values():
        if draft.collection == "featureavailabilities":
            draft.body["marketStates"] = [{"marketCode": None, "state": "Enabled"}]
    run = patched(run_with_changes(), resolve(run_with_changes(), deps))
    assert isinstance(update_draft(replace(run, stage=Stage.UPDATE_DRAFT), deps), Advance)


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
