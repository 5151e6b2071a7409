"""End to end through the queues: releases of many offers in dependency order, go-live under
the publisher's control (approval with one command), a failure that blocks exactly its
dependants, a paused fleet, a cancelled run."""

from __future__ import annotations

import json
import time
from typing import Any

from pcpub.cli import main as pcpub
from pcpub.ops import Storage
from pcpub.stack import LocalStack
from pcsim.admin import SimulatorClient
from shared.ledger import Run, RunStatus
from shared.releases import Releases
from tests.e2e.conftest import calls_for, events_for, publish, stage_package, wait_terminal

BC = "AzureDynamics365BusinessCentral"


def send_release(storage: Storage, stack: LocalStack, body: dict[str, Any]) -> None:
    storage.sender.send("pc-publish-requests", json.dumps({"schemaVersion": 1, **body}))


def wait_for(storage: Storage, check: Any, timeout: float = 150, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def members(storage: Storage, release_id: str) -> dict[str, Run | None]:
    release = Releases(storage.ledger).get(release_id)
    if release is None:  # not taken in yet (or refused: its record says why)
        refused = storage.ledger.get(release_id)
        assert refused is None, refused.reason
        return {"(pending)": None}
    return Releases(storage.ledger).runs(release)


def cli(stack: LocalStack, *args: str) -> int:
    return pcpub([*args, "--connection-string", stack.connection_string])


def test_a_release_in_three_levels_goes_live_in_order_after_one_approval(
    storage: Storage, admin: SimulatorClient, stack: LocalStack
) -> None:
    for name in ("lib-a", "lib-b", "app-1", "app-2", "app-3"):
        admin.add_offer(f"rel-{name}", [], resourceType=BC, name=f"Rel {name}")
    for name in ("suite", "docs", "bundle"):
        admin.add_offer(f"rel-{name}", ["standard"], name=f"Rel {name}")
    stage_package(stack, "rel/lib-a.app", b"NAVX lib a")

    def offer(name: str, deps: list[str], changes: dict[str, Any] | None) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": name, "offer": {"externalId": f"rel-{name}"}}
        if deps:
            entry["dependsOn"] = deps
        if changes is not None:
            entry["changes"] = changes
        return entry

    def title(text: str) -> dict[str, Any]:
        return {"listing": {"title": text}}

    send_release(
        storage,
        stack,
        {
            "releaseId": "rel-2026-11",
            "target": "live",
            "goLive": "approval",
            "onlyChanged": True,
            "maxInFlight": 3,
            "offers": [
                offer("lib-a", [], {"package": {"app": {"staged": "rel/lib-a.app"}}}),
                offer("lib-b", [], title("Lib B 2")),
                offer("app-1", ["lib-a", "lib-b"], title("App 1 v2")),
                offer("app-2", ["lib-a"], title("App 2 v2")),
                offer("app-3", ["lib-b"], title("Rel app-3")),  # the title it has: unchanged
                offer("suite", ["app-1", "app-2"], title("Suite 2")),
                offer("docs", ["app-3"], None),  # nothing asked: unchanged
                offer("bundle", ["app-1"], title("Bundle 2")),
            ],
        },
    )
    changed = {"lib-a", "lib-b", "app-1", "app-2", "suite", "bundle"}

    def ready() -> bool:
        runs = members(storage, "rel-2026-11")
        return all(
            r is not None
            and (
                "waiting for approval" in (r.reason or "")
                if n in changed
                else r.status is RunStatus.UNCHANGED
            )
            for n, r in runs.items()
        )

    wait_for(storage, ready, what="every offer in preview or unchanged")
    events = [e["kind"] for e in events_for(storage, "rel-2026-11")]
    assert events[:2] == ["release-accepted", "release-ready"]
    runs = members(storage, "rel-2026-11")
    for name in changed:
        run = runs[name]
        assert run is not None and run.status is RunStatus.WAITING
        assert "waiting for approval" in (run.reason or "")
    for name in ("app-3", "docs"):  # unchanged: no submission, and their dependants went on
        run = runs[name]
        assert run is not None and run.submission_id is None
        assert calls_for(admin, run.product_id or "", "POST", "/submissions") == 0
    # Submitted only once what they depend on was in preview.
    for name, run in runs.items():
        assert run is not None
        for dep in run.depends_on:
            before = runs[dep]
            assert before is not None
            if name in changed and dep in changed:
                assert _started(before, "await_go_live") <= _started(run, "resolve"), (dep, name)
    assert cli(stack, "approve", "rel-2026-11", "--by", "release-manager") == 0
    wait_for(
        storage,
        lambda: all(
            r is not None and r.status.terminal for r in members(storage, "rel-2026-11").values()
        ),
        what="every offer to end",
    )
    runs = members(storage, "rel-2026-11")
    assert {n: str(r.status) for n, r in runs.items() if r} == {
        **{n: "succeeded" for n in changed},
        "app-3": "unchanged",
        "docs": "unchanged",
    }
    for name in changed:  # live in dependency order: never promoted before its dependencies
        run = runs[name]
        assert run is not None and run.approval["by"] == "release-manager"
        for dep in run.depends_on:
            before = runs[dep]
            assert before is not None
            if dep in changed:
                assert _started(before, "complete") <= _started(run, "promote"), (dep, name)
        assert admin.submission_status(run.product_id or "", run.submission_id or "") == (
            "Published/InStore"
        )
    kinds = [e["kind"] for e in events_for(storage, "rel-2026-11")]
    assert kinds.count("release-succeeded") == 1 and "release-failed" not in kinds
    assert Releases(storage.ledger).get("rel-2026-11").status == "succeeded"  # type: ignore[union-attr]
    # The release as a page: every run a timeline, the go-live gate among its stages.
    page = stack.workdir / "rel-2026-11.html"
    assert cli(stack, "report", "--release", "rel-2026-11", "--html", str(page)) == 0
    html = page.read_text()
    assert html.count('<section class="run">') == len(runs)
    for run in runs.values():
        assert run is not None and f"{run.run_id} · at {run.stage}" in html
    assert ">await_go_live</div>" in html and ">await_preview</div>" in html


def _started(run: Run, stage: str) -> str:
    return next(s.started for s in run.timeline if s.stage == stage)


def test_a_failing_offer_blocks_exactly_its_dependants(
    storage: Storage, admin: SimulatorClient, stack: LocalStack
) -> None:
    for name in ("base", "mid", "top", "side"):
        admin.add_offer(f"blk-{name}", ["standard"], name=f"Blk {name}")
    failing = admin.add_offer("blk-bad", ["standard"], name="Blk bad")
    admin.admin_put(f"products/{failing['id']}/script", {"certificationFailure": True})
    entries = [
        {"name": "bad", "offer": {"externalId": "blk-bad"}},
        {"name": "mid", "offer": {"externalId": "blk-mid"}, "dependsOn": ["bad"]},
        {"name": "top", "offer": {"externalId": "blk-top"}, "dependsOn": ["mid", "base"]},
        {"name": "base", "offer": {"externalId": "blk-base"}},
        {"name": "side", "offer": {"externalId": "blk-side"}, "dependsOn": ["base"]},
    ]
    for entry in entries:
        entry["changes"] = {"listing": {"title": f"{entry['name']} 2"}}
    release = stack.workdir / "blk-1.json"
    release.write_text(
        json.dumps(
            {"schemaVersion": 1, "releaseId": "blk-1", "target": "preview", "offers": entries}
        )
    )
    # A CI job's gate: it follows the release and fails as soon as an offer failed.
    assert cli(stack, "release", "send", str(release), "--wait", "preview", "--timeout", "150") == 1
    wait_for(
        storage,
        lambda: all(
            r is not None and r.status.terminal for r in members(storage, "blk-1").values()
        ),
        what="every offer of blk-1 to end",
    )
    runs = members(storage, "blk-1")
    assert {n: str(r.status) for n, r in runs.items() if r} == {
        "bad": "failed",
        "mid": "failed",
        "top": "failed",
        "base": "succeeded",
        "side": "succeeded",
    }
    for name in ("mid", "top"):
        run = runs[name]
        assert run is not None and (run.reason or "").startswith("blocked: ")
        assert run.submission_id is None
    failed = [e for e in events_for(storage, "blk-1") if e["kind"] == "release-failed"]
    assert len(failed) == 1 and "bad blocks mid, top" in failed[0]["reason"]
    assert cli(stack, "release", "status", "blk-1") == 0
    # Fixed in Partner Center, the failed offers run again; the others are left alone.
    admin.admin_put(f"products/{failing['id']}/script", {"certificationFailure": False})
    assert cli(stack, "release", "redrive", "blk-1") == 0
    wait_for(
        storage,
        lambda: all(
            r is not None and r.status is RunStatus.SUCCEEDED
            for r in members(storage, "blk-1").values()
        ),
        what="the re-driven offers to succeed",
    )
    runs = members(storage, "blk-1")
    assert runs["base"] is not None and runs["base"].run_id == "blk-1.base"  # not run again
    assert runs["bad"] is not None and runs["bad"].run_id == "blk-1.bad.r2"


def test_a_paused_fleet_holds_and_resumes_with_no_run_failed(
    storage: Storage, admin: SimulatorClient, stack: LocalStack
) -> None:
    assert cli(stack, "pause", "--reason", "Partner Center maintenance", "--by", "ops") == 0
    try:
        time.sleep(2.5)  # instances read pauses at most two seconds old
        for i, offer in enumerate(("contoso-backup", "fabrikam-monitor")):
            changes = {"listing": {"title": f"P{i}"}}
            publish(storage, f"paused-{i}", offer, "preview", changes=changes)

        def held() -> bool:
            runs = [storage.ledger.get(f"paused-{i}") for i in range(2)]
            return all(r is not None and "paused by ops" in (r.reason or "") for r in runs)

        wait_for(storage, held, what="both runs held by the pause")
        time.sleep(3)  # a few poller ticks: still held, nothing sent to Partner Center
        tagged = [
            r for r in admin.requests() if (r.get("clientRequestId") or "").startswith("paused-")
        ]
        assert tagged == []
        for i in range(2):  # held at each check (waiting, or re-driven for the next check)
            run = storage.ledger.get(f"paused-{i}")
            assert run is not None and not run.status.terminal
            assert "paused by ops" in (run.reason or "")
    finally:
        assert cli(stack, "resume") == 0
    for i in range(2):
        run = wait_terminal(storage, f"paused-{i}")
        assert run.status is RunStatus.SUCCEEDED, run.reason
        assert run.held_seconds > 0


def test_a_cancelled_run_leaves_no_submission_in_progress(
    storage: Storage, admin: SimulatorClient, stack: LocalStack
) -> None:
    product = admin.add_offer("cancel-me", ["standard"], name="Cancel me")
    admin.admin_put(f"products/{product['id']}/script", {"certificationHang": True})
    publish(storage, "cancel-1", "cancel-me", "live", changes={"listing": {"title": "C 2"}})
    run = wait_for(
        storage,
        lambda: (r := storage.ledger.get("cancel-1")) and r.stage == "await_preview" and r,
        what="the run to wait for certification",
    )
    assert run.submission_id
    assert cli(stack, "cancel", "cancel-1", "--by", "ops", "--reason", "wrong build") == 0
    run = wait_terminal(storage, "cancel-1")
    assert run.status is RunStatus.CANCELLED
    assert "cancelled by ops" in (run.reason or "") and "wrong build" in (run.reason or "")
    assert "deleted" in (run.reason or "")
    subs = admin.ingestion("GET", f"products/{product['id']}/submissions").json()["value"]
    assert not [s for s in subs if s["state"] == "InProgress"]
    assert [e["kind"] for e in events_for(storage, "cancel-1")][-1] == "cancelled"
