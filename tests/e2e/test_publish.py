"""End to end: Azurite, the simulator and the local functions host as processes; publish
requests go through real queues to Partner Center's Published/InStore."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from pcpub.ops import Storage
from pcpub.poison import poison_messages
from pcpub.stack import LocalStack
from pcsim.admin import SimulatorClient
from shared.ledger import RunStatus
from shared.messages import Stage
from shared.queues import PUBLISH_REQUESTS
from tests.e2e.conftest import calls_for, publish, stage_package, wait_terminal


def test_publish_to_live_with_draft_changes_and_a_package(
    storage: Storage, admin: SimulatorClient, stack: LocalStack
) -> None:
    stage_package(stack, "analytics-2.0.0.zip", b"PK\x03\x04" + b"0" * 300_000)
    publish(
        storage,
        "e2e-live-1",
        "contoso-analytics",
        "live",
        changes={
            "listing": {"title": "Contoso Analytics 2", "keywords": ["analytics"]},
            "properties": {"appVersion": "2.0.0"},
            "plans": {
                "premium": {
                    "listing": {"title": "Premium"},
                    "availability": {"markets": ["US", "GB"]},
                    "technicalConfiguration": {
                        "version": "2.0.0",
                        "package": {"staged": "analytics-2.0.0.zip"},
                    },
                }
            },
        },
    )
    run = wait_terminal(storage, "e2e-live-1")
    assert run.status is RunStatus.SUCCEEDED, run.reason
    assert run.stage == Stage.COMPLETE
    assert [s.stage for s in run.timeline] == [
        "intake",
        "resolve",
        "upload_package",
        "await_package",
        "update_draft",
        "submit_preview",
        "await_preview",
        "promote",
        "await_live",
        "complete",
    ]
    assert all(s.ended for s in run.timeline)
    premium = run.plans["premium"]
    assert run.changed_modules == sorted(
        [
            "Listing",
            "Property",
            f"Listing@{premium}",
            f"Availability@{premium}",
            f"Package@{premium}",
        ]
    )
    assert run.product_id and run.submission_id
    package = admin.ingestion(
        "GET", f"products/{run.product_id}/packages/{run.packages['premium']}"
    ).json()
    assert package["state"] == "Processed"
    assert package["fileSize"] == 300_004  # uploaded in blocks by the Storage SDK
    # A real SAS on a real blob endpoint (Azurite, in the local stack), as the service hands out.
    assert stack.ports is not None
    assert package["fileSasUri"].startswith(f"http://127.0.0.1:{stack.ports.blob}/")
    assert "sig=" in package["fileSasUri"]
    assert not [r for r in admin.requests() if r["path"].startswith("/_blobs/")]
    sub = admin.ingestion(
        "GET", f"products/{run.product_id}/submissions/{run.submission_id}"
    ).json()
    assert sorted(r["type"] for r in sub["resources"]) == [
        "Listing",
        "Package",  # the offer-level branch goes with the plan's, as Microsoft's CLIs send it
        "Property",
        "ResellerConfiguration",  # the live service requires it in every submission
    ]
    assert sorted(r["type"] for r in sub["variantResources"][0]["resources"]) == [
        "Availability",
        "Listing",
        "Package",
    ]
    assert admin.submission_status(run.product_id, run.submission_id) == "Published/InStore"
    assert calls_for(admin, run.product_id, "POST", "/packages") == 1
    assert calls_for(admin, run.product_id, "POST", "/submissions") == 1
    assert calls_for(admin, run.product_id, "POST", "/promote") == 1
    tagged = [r for r in admin.requests() if (r["clientRequestId"] or "").startswith("e2e-live-1.")]
    assert len(tagged) == sum(s.calls for s in run.timeline)
    assert all(r["status"] < 400 for r in tagged)


def test_publish_to_preview_only(storage: Storage, admin: SimulatorClient) -> None:
    publish(storage, "e2e-preview-1", "fabrikam-monitor", "preview")
    run = wait_terminal(storage, "e2e-preview-1")
    assert run.status is RunStatus.SUCCEEDED, run.reason
    assert run.pc_status == "Published/ReadyToPublish"
    assert run.product_id
    assert calls_for(admin, run.product_id, "POST", "/promote") == 0


def test_a_request_sent_twice_is_one_run_and_one_submission(
    storage: Storage, admin: SimulatorClient
) -> None:
    publish(storage, "e2e-dup-1", "contoso-backup", "preview")
    publish(storage, "e2e-dup-1", "contoso-backup", "preview")
    run = wait_terminal(storage, "e2e-dup-1")
    assert run.status is RunStatus.SUCCEEDED, run.reason
    assert run.product_id
    time.sleep(2)  # let the second copy be processed too
    assert calls_for(admin, run.product_id, "POST", "/submissions") == 1


def test_bad_requests_are_rejected_and_nothing_is_stuck(
    storage: Storage, stack: LocalStack
) -> None:
    storage.sender.send(PUBLISH_REQUESTS, "{this is not json")
    storage.sender.send(
        PUBLISH_REQUESTS,
        json.dumps(
            {
                "schemaVersion": 1,
                "requestId": "e2e-unknown-field",
                "offer": {"externalId": "contoso-x"},
                "target": "live",
                "priority": "high",
            }
        ),
    )
    publish(storage, "e2e-unknown-offer", "no-such-offer", "live")
    rejected = wait_terminal(storage, "e2e-unknown-field")
    assert rejected.status is RunStatus.REJECTED
    assert "priority: unknown field" in (rejected.reason or "")
    unknown = wait_terminal(storage, "e2e-unknown-offer")
    assert unknown.status is RunStatus.REJECTED  # a readable reason, no Partner Center write
    assert "unknown offer" in (unknown.reason or "")
    publish(
        storage,
        "e2e-unknown-plan",
        "contoso-backup",
        "preview",
        changes={"plans": {"platinum": {"listing": {"title": "x"}}}},
    )
    no_plan = wait_terminal(storage, "e2e-unknown-plan")
    assert no_plan.status is RunStatus.REJECTED
    assert "unknown plan(s) platinum" in (no_plan.reason or "")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any(
        r.run_id.startswith("rejected-") for r in storage.ledger.runs(status="rejected")
    ):
        time.sleep(0.25)
    malformed = [
        r for r in storage.ledger.runs(status="rejected") if r.run_id.startswith("rejected-")
    ]
    assert malformed
    assert "not valid JSON" in (malformed[0].reason or "")
    assert poison_messages(storage) == []


def test_no_secret_or_token_in_any_log(stack: LocalStack) -> None:
    secrets = [stack.sim_config["clientSecret"], stack.sim_config["identityClientSecret"]]
    for name in ("host.log", "simulator.log"):
        text = (stack.workdir / name).read_text()
        for secret in secrets:
            assert secret not in text, name
        assert not re.search(r"eyJ[A-Za-z0-9_-]{10,}\.", text), name  # a JWT
    assert '"action": "run_succeeded"' in (stack.workdir / "host.log").read_text()


def test_settings_file_is_private(stack: LocalStack) -> Any:
    assert stack.settings_path.stat().st_mode & 0o077 == 0
