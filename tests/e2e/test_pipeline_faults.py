"""The pipeline under load and trouble, end to end: many offers at once, two requests for one
offer, Partner Center failures with their reasons, the host killed mid-run, a dead letter
re-driven. After each, nothing is lost and no run made more than one submission."""

from __future__ import annotations

import time

from pcpub.ops import Storage
from pcpub.poison import poison_messages, redrive
from pcpub.stack import LocalStack
from pcsim.admin import SimulatorClient
from shared.ledger import RunStatus
from shared.messages import Stage, StageMessage
from shared.queues import STAGE_QUEUES, poison_queue
from tests.e2e.conftest import calls_for, events_for, publish, stage_package, wait_terminal


def offer(admin: SimulatorClient, name: str) -> str:
    product: dict[str, str] = admin.add_offer(name, ["basic"])
    return product["id"]


def submissions(admin: SimulatorClient, product_id: str) -> list[dict[str, str]]:
    value: list[dict[str, str]] = admin.ingestion(
        "GET", f"products/{product_id}/submissions"
    ).json()["value"]
    return value


def test_twenty_offers_at_once(storage: Storage, admin: SimulatorClient) -> None:
    products = {f"bulk-{i:02d}": offer(admin, f"bulk-{i:02d}") for i in range(20)}
    for name in products:
        publish(storage, f"e2e-{name}", name, "live")
    for name, product_id in products.items():
        run = wait_terminal(storage, f"e2e-{name}", timeout=180)
        assert run.status is RunStatus.SUCCEEDED, (name, run.reason)
        assert [s["substate"] for s in submissions(admin, product_id)] == ["InStore"]
        assert calls_for(admin, product_id, "POST", "/promote") == 1


def test_two_requests_for_one_offer_take_turns(storage: Storage, admin: SimulatorClient) -> None:
    product_id = offer(admin, "turns")
    publish(storage, "e2e-turn-1", "turns", "preview")
    publish(storage, "e2e-turn-2", "turns", "preview")
    first = wait_terminal(storage, "e2e-turn-1")
    second = wait_terminal(storage, "e2e-turn-2")
    assert first.status is RunStatus.SUCCEEDED, first.reason
    assert second.status is RunStatus.SUCCEEDED, second.reason
    assert first.submission_id != second.submission_id
    # never a 409 for a second submission in flight: the runs took turns
    conflicts = [
        r
        for r in admin.requests()
        if r["method"] == "POST"
        and r["path"].endswith(f"{product_id}/submissions")
        and r["status"] == 409
    ]
    assert conflicts == []
    assert len(submissions(admin, product_id)) == 2


def test_failures_carry_their_reasons(storage: Storage, admin: SimulatorClient) -> None:
    scripts = {
        "fails-validation": {"validationFailure": True},
        "fails-certification": {"certificationFailure": True},
    }
    for name, script in scripts.items():
        admin.admin_put(f"products/{offer(admin, name)}/script", script)
        publish(storage, f"e2e-{name}", name, "live")
    validation = wait_terminal(storage, "e2e-fails-validation")
    assert validation.status is RunStatus.FAILED
    assert "ListingContactMissing" in (validation.reason or "")
    assert "Active validation errors" in (validation.reason or "")
    certification = wait_terminal(storage, "e2e-fails-certification")
    assert certification.status is RunStatus.FAILED
    assert "FailedInCertification" in (certification.reason or "")
    assert "certification report Failed" in (certification.reason or "")
    failed = [e for e in events_for(storage, "e2e-fails-certification") if e["kind"] == "failed"]
    assert failed and "FailedInCertification" in failed[0]["reason"]
    assert failed[0]["labels"] == {"suite": "e2e"}
    assert calls_for(admin, validation.product_id or "", "POST", "/promote") == 0


def test_a_package_that_fails_processing_says_why(
    storage: Storage, admin: SimulatorClient, stack: LocalStack
) -> None:
    admin.admin_put(f"products/{offer(admin, 'bad-package')}/script", {"packageFailure": True})
    stage_package(stack, "bad.zip", b"not a zip")
    publish(
        storage,
        "e2e-bad-package",
        "bad-package",
        "live",
        changes={
            "plans": {
                "basic": {
                    "technicalConfiguration": {"version": "1.0.0", "package": {"staged": "bad.zip"}}
                }
            }
        },
    )
    run = wait_terminal(storage, "e2e-bad-package")
    assert run.status is RunStatus.FAILED
    assert run.stage == Stage.AWAIT_PACKAGE
    assert "mainTemplate.json is missing" in (run.reason or "")
    assert calls_for(admin, run.product_id or "", "POST", "/submissions") == 0


def test_the_host_killed_mid_run_loses_nothing(
    storage: Storage, admin: SimulatorClient, stack: LocalStack
) -> None:
    products = {f"crash-{i}": offer(admin, f"crash-{i}") for i in range(4)}
    admin.set_faults(latencyMs=150)  # stages take long enough to be caught in the middle
    try:
        for name in products:
            publish(storage, f"e2e-{name}", name, "live")
        mid_stage(storage, [f"e2e-{name}" for name in products])
        stack.restart_host(kill=True)  # SIGKILL: leased messages come back after the lease
        time.sleep(1.0)
        stack.restart_host(kill=True)
    finally:
        admin.clear_faults()
    for name, product_id in products.items():
        run = wait_terminal(storage, f"e2e-{name}", timeout=180)
        assert run.status is RunStatus.SUCCEEDED, (name, run.reason)
        assert len(submissions(admin, product_id)) == 1
        assert calls_for(admin, product_id, "POST", "/promote") <= 2  # a retried POST at most
        assert submissions(admin, product_id)[0]["substate"] == "InStore"
    log = (stack.workdir / "host.log").read_text()
    assert '"dequeue_count": 2' in log  # the kill did catch messages mid-flight


def mid_stage(storage: Storage, run_ids: list[str], timeout: float = 30.0) -> None:
    """Until a delivery is in the middle of one of the runs' stages: its claim on the stage
    the run is at is written, and its outcome not yet (a sleep of fixed length missed every
    stage once the stages got faster)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run_id in run_ids:
            run = storage.ledger.get(run_id)
            if run and run.status is RunStatus.RUNNING and run.claimed_stage == run.stage:
                return
        time.sleep(0.05)
    raise AssertionError("no stage of the runs was caught in the middle")


def test_a_dead_letter_is_recorded_and_redriven(
    storage: Storage, admin: SimulatorClient, stack: LocalStack
) -> None:
    offer(admin, "dead-letter")
    publish(storage, "e2e-dead-letter", "dead-letter", "preview")
    run = wait_terminal(storage, "e2e-dead-letter")
    assert run.status is RunStatus.SUCCEEDED
    # As the host does after maxDequeueCount: the message copied to the poison queue.
    lost = StageMessage(run_id="e2e-dead-letter", stage=Stage.COMPLETE).to_json()
    storage.sender.send(poison_queue(STAGE_QUEUES[Stage.COMPLETE]), lost)
    deadline = time.monotonic() + 30
    letters: list[dict[str, object]] = []
    while time.monotonic() < deadline and not letters:
        letters = [p for p in poison_messages(storage) if p.get("runId") == "e2e-dead-letter"]
        time.sleep(0.25)
    assert letters, "the dead-letter function did not record the poison message"
    assert letters[0]["queue"] == STAGE_QUEUES[Stage.COMPLETE]
    assert redrive(storage) >= 1
    assert [p for p in poison_messages(storage) if p.get("runId") == "e2e-dead-letter"] == []
    time.sleep(2)
    again = storage.ledger.get("e2e-dead-letter")
    assert again is not None and again.status is RunStatus.SUCCEEDED  # the guard consumed it
