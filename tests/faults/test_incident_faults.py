"""Fault rows for Partner Center's incidents of 2026: a service-wide regression (every call 400
with the `x-ms-publisherId` body) holds every run, probes at a growing interval, and lets them
all go on by themselves when it is over; an app that is not (or no longer) added to the
account is told so and held, not hot-looped."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.exceptions import ResourceExistsError

from pcpub.ops import Storage
from pcpub.stack import LocalStack
from pcsim.admin import SimulatorClient
from shared.ledger import RunStatus
from tests.faults.matrix import ROWS, check_nothing_lost, fault_stack, start_runs, succeeded

pytestmark = pytest.mark.faults
REGRESSION_SECONDS = 120  # two minutes (the June 2026 one lasted about ten days)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    yield from fault_stack(
        tmp_path_factory, "incidents", PC_STALL_SECONDS="30", PC_INCIDENT_MAX_PROBE_SECONDS="8"
    )


def _events(storage: Storage) -> list[dict[str, Any]]:
    client = storage.queue("pc-events")
    with contextlib.suppress(ResourceExistsError):
        client.create_queue()
    found = []
    while batch := list(client.receive_messages(max_messages=32, visibility_timeout=30)):
        for message in batch:
            found.append(json.loads(message.content))
            client.delete_message(message)
    return found


def test_a_service_wide_regression_holds_every_run_until_it_is_over(
    stack: LocalStack, storage: Storage, admin: SimulatorClient
) -> None:
    _events(storage)
    admin.set_live(regressionSeconds=REGRESSION_SECONDS)
    started = time.time()
    runs = start_runs(storage, admin, "regression", count=20)
    time.sleep(REGRESSION_SECONDS / 2)
    held = [r for r in map(storage.ledger.get, runs) if r and (r.reason or "").startswith("held")]
    assert len(held) >= 10, "runs are held, not failed or hammering the service"
    assert not [r for r in map(storage.ledger.get, runs) if r and r.status.terminal]
    during = [
        r
        for r in admin.requests()
        if "/v1.0/ingestion" in r["path"] and started <= r["time"] < started + REGRESSION_SECONDS
    ]
    check_nothing_lost("service-wide-regression", stack, storage, admin, runs, succeeded)
    ROWS[-1]["ingestion_calls_during_incident"] = len(during)
    # Twenty runs, each retrying every second on its own, would make about 2,400 calls.
    assert len(during) <= 150, len(during)
    kinds = [e["kind"] for e in _events(storage)]
    assert "incident-opened" in kinds and "incident-closed" in kinds


def test_an_app_not_added_to_the_account_is_told_so_and_held(
    stack: LocalStack, storage: Storage, admin: SimulatorClient
) -> None:
    client_id = stack.sim_config["clientId"]
    admin.associate(client_id, False)
    try:
        runs = start_runs(storage, admin, "unassociated")
        deadline = time.monotonic() + 60
        reasons: list[str] = []
        while time.monotonic() < deadline:
            reasons = [r.reason or "" for r in map(storage.ledger.get, runs) if r]
            if len(reasons) == len(runs) and all(
                "not added to the Partner Center account" in x or x.startswith("held")
                for x in reasons
            ):
                break
            time.sleep(0.5)
        assert any("not added to the Partner Center account" in x for x in reasons), reasons
        assert not [r for r in map(storage.ledger.get, runs) if r and r.status is RunStatus.FAILED]
    finally:
        admin.associate(client_id, True)
    check_nothing_lost("app-not-associated-then-added", stack, storage, admin, runs, succeeded)
