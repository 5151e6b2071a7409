"""Offer as code against the in-process simulator: an export is a request that plans as no
change for every offer type; a plan shows exactly what differs, field by field, and writes
nothing; drift is what the draft holds beyond what is live."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from pcsim.app import Simulator
from shared.ledger import Run, RunStatus
from shared.messages import Stage
from shared.pipeline import planning
from shared.pipeline.drafts import instance_of
from shared.pipeline.export import export
from shared.pipeline.media import KINDS, MediaTarget, current
from shared.pipeline.outcomes import Advance, Finished, Outcome, Retry
from shared.pipeline.planning import plan
from shared.pipeline.stages import StageDeps, resolve, submit_preview, update_draft
from shared.publish_request import RequestRejected, check_policy, parse_publish_request
from tests.conftest import SimFiles, settled


class MemoryExports:
    def __init__(self) -> None:
        self.written: dict[str, str] = {}

    def write(self, name: str, text: str) -> str:
        self.written[name] = text
        return f"pc-exports/{name}"


def opened(deps: StageDeps, offer: str, target: str, changes: dict[str, Any] | None = None) -> Run:
    run = Run(
        run_id=f"{target}-{offer}",
        status=RunStatus.RUNNING,
        stage=Stage.RESOLVE,
        target=target,
        offer_external_id=offer,
        changes=changes or {},
    )
    outcome = resolve(run, deps)
    assert isinstance(outcome, Advance), outcome
    assert outcome.to is (Stage.PLAN if target == "plan" else Stage.EXPORT)
    fields = {k: v for k, v in vars(outcome.patch).items() if v is not None}
    return replace(run, **fields)


def exported(deps: StageDeps, offer: str) -> dict[str, Any]:
    store = MemoryExports()
    outcome = export(opened(deps, offer, "export"), replace(deps, exports=store))
    assert isinstance(outcome, Finished), outcome
    [text] = store.written.values()
    request: dict[str, Any] = json.loads(text)
    assert parse_publish_request(text).target == "plan"  # sent as it is, it changes nothing
    return request


def planned(deps: StageDeps, offer: str, changes: dict[str, Any]) -> dict[str, Any]:
    outcome = plan(opened(deps, offer, "plan", changes), deps)
    assert isinstance(outcome, Finished)
    assert outcome.planned
    assert outcome.patch.plan is not None
    return outcome.patch.plan


def add_language(deps: StageDeps, offer: str, language: str, title: str) -> None:
    pid = opened(deps, offer, "export").product_id or ""
    instance = instance_of(deps.pc, pid, "Listing", None)
    body = {"resourceType": "AzureListing", "languageCode": language, "title": title}
    deps.pc.create_listing(pid, instance, body)


@pytest.mark.parametrize(
    "offer", ["contoso-analytics", "contoso-landing-zone", "contoso-timesheets"]
)
def test_an_export_plans_as_no_change(deps: StageDeps, offer: str) -> None:
    add_language(deps, offer, "de-de", "Auf Deutsch")
    request = exported(deps, offer)
    changes = request["changes"]
    assert changes["listings"]["de-de"] == {"title": "Auf Deutsch"}
    assert "en-us" in changes["listings"]
    if offer == "contoso-timesheets":
        assert changes["properties"]["appVersion"] == "1.0.0.0"
        assert changes["availability"]["markets"] == ["US"]
        assert "plans" not in changes
    else:
        assert changes["plans"]  # every plan, with its listing, markets and configuration
        for plan_changes in changes["plans"].values():
            assert plan_changes["availability"]["markets"] == ["US"]
            assert plan_changes["technicalConfiguration"]["version"] == "1.0.0"
    record = planned(deps, offer, changes)
    assert record["changes"] == []
    assert record["drift"] == []
    assert record["inFlight"] is None


def test_a_plan_shows_each_field_that_would_change_and_writes_nothing(
    deps: StageDeps, sim: Simulator
) -> None:
    add_language(deps, "contoso-backup", "de-de", "Sicherung")
    changes = exported(deps, "contoso-backup")["changes"]
    changes["listings"]["de-de"]["title"] = "Contoso Sicherung"
    changes["listings"]["fr-fr"] = {"title": "Sauvegarde"}  # a language the offer lacks
    changes["plans"]["basic"]["availability"]["markets"] = ["DE", "US"]
    changes["plans"]["basic"]["technicalConfiguration"]["package"] = {"staged": "basic.zip"}
    writes_before = [r for r in sim.request_log() if r["method"] != "GET"]
    record = planned(deps, "contoso-backup", changes)
    assert [r for r in sim.request_log() if r["method"] != "GET"] == writes_before
    shown = {
        (c["module"], c["plan"], c["language"], c["field"]): (c["old"], c["new"])
        for c in record["changes"]
    }
    assert shown == {
        ("Listing", None, "de-de", "title"): ("Sicherung", "Contoso Sicherung"),
        ("Listing", None, "fr-fr", "title"): (None, "Sauvegarde"),
        ("Availability", "basic", None, "marketStates"): (
            [{"marketCode": "US", "state": "Enabled"}],
            [{"marketCode": "DE", "state": "Enabled"}, {"marketCode": "US", "state": "Enabled"}],
        ),
        ("Package", "basic", None, "package"): (None, "upload basic.zip"),
    }


def test_an_export_leaves_out_what_a_request_cannot_carry(deps: StageDeps) -> None:
    add_language(deps, "contoso-backup", "ja-jp", "x" * 500)  # a title over 200 characters
    store = MemoryExports()
    outcome = export(opened(deps, "contoso-backup", "export"), replace(deps, exports=store))
    assert isinstance(outcome, Finished)
    assert "listings.ja-jp.title" in outcome.reason
    request = json.loads(next(iter(store.written.values())))
    assert "ja-jp" not in request["changes"]["listings"]


def test_a_plan_whose_id_a_request_cannot_name_is_left_out_with_a_note(
    sim: Simulator, deps: StageDeps
) -> None:
    """An older plan id the request's pattern refuses: left out and named, where the export
    failed its own check with a bug's error (and was poisoned)."""
    sim.contract = None  # the service answers off its contract here, on purpose
    product = next(p for p in sim.world.products.values() if p.offer_id == "contoso-backup")
    legacy = product.variants[0]
    legacy.plan_id = "Legacy Plan"
    store = MemoryExports()
    outcome = export(opened(deps, "contoso-backup", "export"), replace(deps, exports=store))
    assert isinstance(outcome, Finished), outcome
    assert "plans.'Legacy Plan' (no plan id a request can name)" in outcome.reason
    request = json.loads(next(iter(store.written.values())))
    assert "Legacy Plan" not in request["changes"].get("plans", {})
    assert parse_publish_request(json.dumps(request)).target == "plan"


IMAGES = [
    {"type": "AzureLogoSmall", "file": {"staged": "logo-small.png"}},
    {"type": "Screenshot", "file": {"staged": "shot-1.png"}, "order": 1},
]


def drafted(deps: StageDeps, sim: Simulator, changes: dict[str, Any]) -> Outcome:
    """update_draft as the runner runs it, until listing images are processed."""
    run = opened(deps, "contoso-backup", "plan", changes)
    run = replace(run, target="live")
    for _ in range(5):
        outcome: Outcome = settled(update_draft)(run, deps)
        if not isinstance(outcome, Retry):
            return outcome
        assert "still processing" in outcome.reason and not outcome.trouble  # not announced
        run = replace(run, planned_modules=["Listing"])
        sim.world.clock.offset += 60
    raise AssertionError("the images never settled")


def test_listing_images_are_named_by_content_and_uploaded_once(
    deps: StageDeps, sim: Simulator
) -> None:
    files = SimFiles(sim)
    deps = replace(deps, files=files)
    documents = [{"type": "Document", "file": {"staged": "guide.pdf"}}]
    videos = [
        {
            "title": "Tour",
            "link": "https://www.youtube.com/watch?v=t1",
            "thumbnail": {"staged": "tour.png"},
        }
    ]
    changes = {"listing": {"images": IMAGES, "documents": documents, "videos": videos}}
    outcome = drafted(deps, sim, changes)
    assert isinstance(outcome, Advance), outcome
    assert outcome.patch.changed_modules == ["Listing"]
    assert files.uploads == 4
    names = sorted(i.file_name for i in sim_images(deps, "contoso-backup"))
    assert sorted(n.split("-", 1)[1] for n in names) == ["logo-small.png", "shot-1.png"]
    assert all(len(n.split("-", 1)[0]) == 16 for n in names)  # the content's hash
    again = drafted(deps, sim, changes)
    assert isinstance(again, Advance)
    assert again.patch.changed_modules == []
    assert files.uploads == 4  # unchanged files are not uploaded again

    request = exported(deps, "contoso-backup")
    exported_images = request["changes"]["listings"]["en-us"]["images"]
    assert sorted(i["fileName"] for i in exported_images) == names
    [document] = request["changes"]["listings"]["en-us"]["documents"]
    assert document["fileName"].endswith("-guide.pdf")
    assert "order" not in document  # documents are not ordered
    [video] = request["changes"]["listings"]["en-us"]["videos"]
    assert (video["title"], video["link"]) == ("Tour", "https://www.youtube.com/watch?v=t1")
    assert video["thumbnailName"].endswith("-tour.png")
    assert planned(deps, "contoso-backup", request["changes"])["changes"] == []

    shot = next(i for i in exported_images if i["type"] == "Screenshot")
    shot.pop("fileName")
    shot["file"] = {"staged": "shot-2.png"}  # one screenshot replaced
    [change] = planned(deps, "contoso-backup", request["changes"])["changes"]
    assert (change["module"], change["language"], change["field"]) == ("Listing", "en-us", "images")
    assert [s for s in change["old"] if s.startswith("Screenshot")] != [
        s for s in change["new"] if s.startswith("Screenshot")
    ]
    assert [s for s in change["old"] if s.startswith("AzureLogo")] == [
        s for s in change["new"] if s.startswith("AzureLogo")
    ]
    assert files.uploads == 4  # a plan reads files, never uploads
    video["link"] = "https://www.youtube.com/watch?v=t2"  # the same thumbnail, a new video
    changed = planned(deps, "contoso-backup", request["changes"])["changes"]
    assert {c["field"] for c in changed} == {"images", "videos"}
    [clip] = [c for c in changed if c["field"] == "videos"]
    assert [v.split(" ")[1] for v in clip["old"] + clip["new"]] == [
        "<https://www.youtube.com/watch?v=t1>",
        "<https://www.youtube.com/watch?v=t2>",
    ]
    assert any(
        "needs a file" in why
        for why in planned(deps, "contoso-backup", request["changes"])["refused"]
    )
    video.pop("thumbnailName")  # a new video: its thumbnail is uploaded again
    video["thumbnail"] = {"staged": "tour.png"}
    shot.pop("file")  # back to the screenshot Partner Center holds
    shot["fileName"] = next(n for n in names if n.endswith("-shot-1.png"))
    applied = drafted(deps, sim, request["changes"])
    assert isinstance(applied, Advance)
    assert applied.patch.changed_modules == ["Listing"]
    assert files.uploads == 5  # the new video's thumbnail only
    assert planned(deps, "contoso-backup", request["changes"])["changes"] == []


def sim_images(deps: StageDeps, offer: str) -> list[Any]:
    pid = opened(deps, offer, "export").product_id or ""
    found: list[Any] = current(deps, pid, MediaTarget(KINDS[0], "Listing", None, "en-us", ()))
    return found


def test_a_plan_record_stays_bounded_whatever_the_request(
    deps: StageDeps, monkeypatch: pytest.MonkeyPatch
) -> None:
    languages = [f"xx-{n:02d}" for n in range(60)]  # the most a request may name, each long
    listing = {"title": "t" * 200, "description": "d" * 30000, "keywords": ["k" * 200] * 10}
    record = planned(deps, "contoso-backup", {"listings": dict.fromkeys(languages, listing)})
    assert len(json.dumps(record)) < 400_000  # far inside a table row's 1 MiB
    descriptions = [c for c in record["changes"] if c["field"] == "description"]
    assert descriptions
    assert all(c["new"].endswith("... (30000 characters)") for c in descriptions)
    assert (len(record["changes"]), record["truncated"]) == (60 * 3, 0)  # title, text, keywords
    monkeypatch.setattr(planning, "MAX_RECORD_CHARS", 20_000)  # a smaller row: entries counted
    record = planned(deps, "contoso-backup", {"listings": dict.fromkeys(languages, listing)})
    assert len(json.dumps(record["changes"])) <= 20_000
    assert record["truncated"] == 60 * 3 - len(record["changes"]) > 0


def test_an_image_from_a_host_not_allowed_is_refused_at_intake() -> None:
    image: dict[str, Any] = {"type": "Screenshot", "file": {"url": "https://evil.example/c/a.png"}}
    body: dict[str, Any] = {
        "schemaVersion": 1,
        "requestId": "r-img",
        "offer": {"externalId": "contoso-backup"},
        "target": "plan",
        "changes": {"listings": {"de-de": {"images": [image]}}},
    }
    request = parse_publish_request(json.dumps(body))
    with pytest.raises(RequestRejected, match=r"listings\.de-de\.images\.0\.file\.url"):
        check_policy(request, url_hosts=("blob.core.windows.net",))
    image.pop("file")  # no source at all
    with pytest.raises(RequestRejected, match="exactly one of file or fileName"):
        parse_publish_request(json.dumps(body))


def test_a_plan_reports_a_submission_in_flight_and_waits_for_none(deps: StageDeps) -> None:
    changes = {"listing": {"title": "Contoso Backup 3"}}
    publishing = replace(opened(deps, "contoso-backup", "plan", changes), target="preview")
    drafted_run = replace(publishing, **_patch(settled(update_draft)(publishing, deps)))
    submitted = settled(submit_preview)(drafted_run, deps)
    submission = submitted.patch.submission_id
    assert submission
    record = planned(deps, "contoso-backup", {"listing": {"title": "Contoso Backup 4"}})
    assert record["inFlight"]["submissionId"] == submission
    assert [(c["old"], c["new"]) for c in record["changes"]] == [
        ("Contoso Backup 3", "Contoso Backup 4")
    ]


def _patch(outcome: Outcome) -> dict[str, Any]:
    patch = getattr(outcome, "patch", None)
    return {k: v for k, v in vars(patch).items() if v is not None} if patch else {}
