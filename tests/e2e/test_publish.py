"""End to end: Azurite, the simulator and the local functions host as processes; publish
requests go through real queues to Partner Center's Published/InStore."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from pcpub.ops import Storage, enqueue, poison_messages
from pcpub.simulator.admin import SimulatorClient
from pcpub.stack import LocalStack
from shared.ledger import Run, RunStatus
from shared.messages import Stage
from shared.queues import PUBLISH_REQUESTS


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(tmp_path_factory.mktemp("stack"), profile="fast") as running:
        yield running


@pytest.fixture(scope="module")
def storage(stack: LocalStack) -> Storage:
    return Storage(stack.connection_string)


@pytest.fixture(scope="module")
def admin(stack: LocalStack) -> Iterator[SimulatorClient]:
    client = SimulatorClient(stack.sim_config)
    yield client
    client.close()


def publish(storage: Storage, request_id: str, offer: str, target: str) -> None:
    enqueue(
        storage,
        json.dumps(
            {
                "schemaVersion": 1,
                "requestId": request_id,
                "offer": {"externalId": offer},
                "target": target,
                "labels": {"suite": "e2e"},
            }
        ),
    )


def wait_terminal(storage: Storage, request_id: str, timeout: float = 90) -> Run:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = storage.ledger.get(request_id)
        if run is not None and run.status.terminal:
            return run
        time.sleep(0.25)
    raise AssertionError(f"run {request_id} did not finish: {storage.ledger.get(request_id)}")


def calls_for(admin: SimulatorClient, product_id: str, method: str, suffix: str) -> int:
    return sum(
        1
        for r in admin.requests()
        if r["method"] == method and product_id in r["path"] and r["path"].endswith(suffix)
    )


def test_publish_to_live(storage: Storage, admin: SimulatorClient) -> None:
    publish(storage, "e2e-live-1", "contoso-analytics", "live")
    run = wait_terminal(storage, "e2e-live-1")
    assert run.status is RunStatus.SUCCEEDED, run.reason
    assert run.stage == Stage.COMPLETE
    assert [s.stage for s in run.timeline] == [
        "intake",
        "resolve",
        "submit_preview",
        "await_preview",
        "promote",
        "await_live",
        "complete",
    ]
    assert all(s.ended for s in run.timeline)
    assert run.product_id and run.submission_id
    assert admin.submission_status(run.product_id, run.submission_id) == "Published/InStore"
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
                "offer": {"externalId": "x"},
                "target": "live",
                "priority": "high",
            }
        ),
    )
    publish(storage, "e2e-unknown-offer", "no-such-offer", "live")
    rejected = wait_terminal(storage, "e2e-unknown-field")
    assert rejected.status is RunStatus.REJECTED
    assert "priority: unknown field" in (rejected.reason or "")
    failed = wait_terminal(storage, "e2e-unknown-offer")
    assert failed.status is RunStatus.FAILED
    assert "unknown offer" in (failed.reason or "")
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
