"""The 2026 service's behaviours, end to end through the queues: a draft stuck after failed
validation in the way of a run, and market changes that the service keeps only when the PUT
carries `$expand` (migrated-offer lookup, 202 on create and the ResellerConfiguration module
are the simulator's defaults, exercised by every end-to-end run)."""

from __future__ import annotations

import time

from pcpub.ops import Storage
from pcsim.admin import SimulatorClient
from shared.ledger import RunStatus
from tests.e2e.conftest import person_submits, publish, wait_terminal


def test_a_stuck_draft_started_elsewhere_holds_the_run_until_it_is_deleted(
    storage: Storage, admin: SimulatorClient
) -> None:
    product = admin.add_offer("stuck-elsewhere", ["basic"])["id"]
    admin.admin_put(f"products/{product}/script", {"validationFailure": True})
    stuck = person_submits(admin, product)
    admin.admin_put(f"products/{product}/script", {})
    publish(storage, "e2e-stuck-draft", "stuck-elsewhere", "preview")
    deadline = time.monotonic() + 60
    reason = ""
    while time.monotonic() < deadline and "failed validation" not in reason:
        run = storage.ledger.get("e2e-stuck-draft")
        reason = (run.reason or "") if run else ""
        time.sleep(0.3)
    assert f"submission {stuck} started elsewhere failed validation" in reason
    assert "PC_FOREIGN_SUBMISSION=delete" in reason
    # The person deletes it in Partner Center: the run goes on by itself.
    assert admin.ingestion("DELETE", f"products/{product}/submissions/{stuck}").status_code == 204
    run = wait_terminal(storage, "e2e-stuck-draft")
    assert run.status is RunStatus.SUCCEEDED, run.reason


def test_market_changes_reach_partner_center(storage: Storage, admin: SimulatorClient) -> None:
    product = admin.add_offer("markets-offer", ["basic"])["id"]
    publish(
        storage,
        "e2e-markets",
        "markets-offer",
        "preview",
        changes={"plans": {"basic": {"availability": {"markets": ["US", "FR", "JP"]}}}},
    )
    run = wait_terminal(storage, "e2e-markets")
    assert run.status is RunStatus.SUCCEEDED, run.reason
    variant = run.plans["basic"]
    branches = admin.ingestion(
        "GET", f"products/{product}/branches/getByModule(module=Availability)"
    ).json()["value"]
    instance = next(b for b in branches if b.get("variantID") == variant)
    [availability] = admin.ingestion(
        "GET",
        f"products/{product}/featureAvailabilities/getByInstanceID(instanceID="
        f"{instance['currentDraftInstanceID']})?$expand=MarketStates",
    ).json()["value"]
    enabled = {m["marketCode"] for m in availability["marketStates"] if m["state"] == "Enabled"}
    assert enabled == {"US", "FR", "JP"}
