"""The fault-injection matrix: each row runs the whole stack (real processes, real queues)
under one fault, waits until the system is quiet, checks that nothing was lost, and reports
its counts (bench/results/faults.json).

"Nothing lost", checked after every row: every accepted request has exactly one run; every
run is finished, or failed or rejected with a reason; no run made more than one submission or
one promote at Partner Center, and none promoted a submission it did not create; a run that
changed modules submitted exactly those; every run's stages moved forward only; no poison
message or dead letter is left; no secret or token appears in any log line."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from pcpub.ops import Storage, enqueue
from pcpub.stack import LocalStack
from pcsim.admin import SimulatorClient
from shared.ledger import Run, RunStatus
from tests.faults.matrix import (
    ROTATED,
    RUNS_PER_ROW,
    check_nothing_lost,
    fault_stack,
    start_runs,
    succeeded,
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    yield from fault_stack(tmp_path_factory, "faults")


@pytest.mark.parametrize(
    ("row", "faults"),
    [
        ("throttle-storm", {"rateLimit": 30, "rateWindowSeconds": 10}),
        (
            "throttle-no-retry-after",
            {"rateLimit": 30, "rateWindowSeconds": 10, "sendRetryAfter": False},
        ),
        ("5xx-bursts", {"errorRate": 0.25, "errorStatus": 503, "seed": 7}),
        ("connection-resets", {"resetRate": 0.15, "seed": 11}),
        (
            "slow-and-ambiguous",
            {
                "rules": [
                    {
                        "method": "POST",
                        "path": "/submissions$",
                        "delay": 2,
                        "after": True,
                        "reset": True,
                        "times": 2,
                    }
                ],
                "latencyMs": 50,
            },
        ),
    ],
)
def test_partner_center_faults(
    row: str, faults: dict[str, Any], stack: LocalStack, storage: Storage, admin: SimulatorClient
) -> None:
    admin.set_faults(**faults)
    try:
        runs = start_runs(storage, admin, row)
        check_nothing_lost(row, stack, storage, admin, runs, succeeded)
    finally:
        admin.clear_faults()


def test_tokens_expiring_mid_run(
    stack: LocalStack, storage: Storage, admin: SimulatorClient
) -> None:
    admin.admin_put("tokens", {"lifetimeSeconds": 3})
    try:
        runs = start_runs(storage, admin, "short-tokens")
        check_nothing_lost("tokens-expiring", stack, storage, admin, runs, succeeded)
    finally:
        admin.admin_put("tokens", {"lifetimeSeconds": 3600})


def test_secret_rotated_mid_run(
    stack: LocalStack, storage: Storage, admin: SimulatorClient
) -> None:
    admin.admin_put("tokens", {"lifetimeSeconds": 4})  # so tokens are fetched again soon
    original = admin.config
    try:
        runs = start_runs(storage, admin, "rotation")
        time.sleep(1.5)
        ROTATED.append("rotated-secret-" + time.strftime("%H%M%S") + "-value")
        admin.put_secret(stack.sim_config["secretName"], ROTATED[-1])
        admin.config = {**original, "clientSecret": ROTATED[-1]}  # the publisher's view too
        check_nothing_lost("secret-rotated", stack, storage, admin, runs, succeeded)
    finally:
        admin.put_secret(stack.sim_config["secretName"], original["clientSecret"])
        admin.config = original
        admin.admin_put("tokens", {"lifetimeSeconds": 3600})


def test_key_vault_down_for_a_while(
    stack: LocalStack, storage: Storage, admin: SimulatorClient
) -> None:
    admin.admin_put("tokens", {"lifetimeSeconds": 4})
    admin.set_faults(rules=[{"path": "^/secrets/", "status": 503, "times": None}])
    try:
        runs = start_runs(storage, admin, "vault-down")
        time.sleep(10)  # the outage (a minute, scaled down)
        admin.clear_faults()
        check_nothing_lost("key-vault-down", stack, storage, admin, runs, succeeded)
    finally:
        admin.clear_faults()
        admin.admin_put("tokens", {"lifetimeSeconds": 3600})


def test_host_killed_at_random_points(
    stack: LocalStack, storage: Storage, admin: SimulatorClient
) -> None:
    admin.set_faults(latencyMs=100)
    try:
        runs = start_runs(storage, admin, "killed", count=2 * RUNS_PER_ROW)
        for pause in (0.8, 1.7, 2.9):
            time.sleep(pause)
            stack.restart_host(kill=True)
    finally:
        admin.clear_faults()
    check_nothing_lost("host-killed", stack, storage, admin, runs, succeeded)


def test_duplicated_and_reordered_requests(
    stack: LocalStack, storage: Storage, admin: SimulatorClient
) -> None:
    runs = start_runs(storage, admin, "dupes", twice=True)
    check_nothing_lost("duplicated-reordered", stack, storage, admin, runs, succeeded)


def test_certification_and_package_failures(
    stack: LocalStack, storage: Storage, admin: SimulatorClient
) -> None:
    """Half the runs fail certification, half bring a package that fails processing: each
    fails with its own reason, nothing is promoted, nothing is stuck."""
    from tests.e2e.conftest import stage_package

    stage_package(stack, "broken.zip", b"not a zip")
    runs = {}
    for i in range(RUNS_PER_ROW):
        kind = "certification" if i % 2 == 0 else "package"
        name = f"{kind}-fail-{i}"
        product = admin.add_offer(name, ["basic"])["id"]
        admin.admin_put(f"products/{product}/script", {f"{kind}Failure": True})
        runs[f"req-{name}"] = product
        request: dict[str, Any] = {
            "schemaVersion": 1,
            "requestId": f"req-{name}",
            "offer": {"externalId": name},
            "target": "live",
        }
        if kind == "package":
            request["changes"] = {
                "plans": {
                    "basic": {
                        "technicalConfiguration": {
                            "version": "1.0.0",
                            "package": {"staged": "broken.zip"},
                        }
                    }
                }
            }
        enqueue(storage, json.dumps(request))

    def failed_for_its_reason(run: Run) -> bool:
        expected = "FailedInCertification" if "certification" in run.run_id else "failed processing"
        return run.status is RunStatus.FAILED and expected in (run.reason or "")

    check_nothing_lost(
        "certification-and-package-failures", stack, storage, admin, runs, failed_for_its_reason
    )
