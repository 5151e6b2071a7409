"""What every fault row shares: a whole stack under short leases, runs started one offer
each, and the "nothing lost" check (the invariants of the matrix's docstring, in
tests/faults/test_fault_matrix.py) with the row's counts for bench/results/faults.json.
The fixtures on a module's own stack are in conftest.py."""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pcpub.ops import Storage, enqueue
from pcpub.poison import poison_messages
from pcpub.stack import LocalStack
from pcsim.admin import SimulatorClient
from shared.ledger import Run, RunStatus
from shared.messages import Stage
from shared.offer_types import of_run
from shared.pipeline.stages import ORDER
from tests.conftest import assert_conforms, reference

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"
ROWS: list[dict[str, Any]] = []
_throttled_before = [0]
RUNS_PER_ROW = 4
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}")
LEGAL_BACKSTEP = {(Stage.PROMOTE, Stage.AWAIT_PREVIEW)}  # promote refused as early


def fault_stack(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    keep_host_alive: bool = False,
    hosts: int = 1,
    persist_storage: bool = False,
    **settings: str,
) -> Iterator[LocalStack]:
    """A whole stack for one module of fault rows: short leases and retries, and `settings`
    on top of the matrix's own."""
    values = {
        "PC_SECRET_CACHE_SECONDS": "2",
        "PC_RETRY_DELAY_SECONDS": "1",
        "PC_STALL_SECONDS": "20",
        **settings,
    }
    with LocalStack(
        tmp_path_factory.mktemp(name),
        profile="fast",
        lease_seconds=4,
        extra_settings=values,
        keep_host_alive=keep_host_alive,
        contract=reference(),
        hosts=hosts,
        persist_storage=persist_storage,
    ) as running:
        yield running
        assert_conforms(running.sim_config)


def start_runs(
    storage: Storage,
    admin: SimulatorClient,
    row: str,
    twice: bool = False,
    count: int = RUNS_PER_ROW,
) -> dict[str, str]:
    """One offer per run; returns request id -> product id."""
    runs = {}
    for i in range(count):
        name = f"{row}-{i}"
        runs[f"req-{name}"] = admin.add_offer(name, ["basic"])["id"]
    bodies = [
        json.dumps(
            {
                "schemaVersion": 1,
                "requestId": rid,
                "target": "live",
                "offer": {"externalId": rid.removeprefix("req-")},
            }
        )
        for rid in runs
    ]
    for body in bodies + (bodies[::-1] if twice else []):  # duplicated, and reordered
        enqueue(storage, body)
    return runs


def wait_quiet(storage: Storage, runs: dict[str, str], timeout: float = 150) -> dict[str, Run]:
    deadline = time.monotonic() + timeout
    found: dict[str, Run] = {}
    while time.monotonic() < deadline:
        found = {rid: r for rid in runs if (r := storage.ledger.get(rid)) is not None}
        if len(found) == len(runs) and all(r.status.terminal for r in found.values()):
            return found
        time.sleep(0.5)
    raise AssertionError({rid: (r.status, r.stage, r.reason) for rid, r in found.items()})


def check_nothing_lost(
    row: str,
    stack: LocalStack,
    storage: Storage,
    admin: SimulatorClient,
    runs: dict[str, str],
    expect: Callable[[Run], bool],
) -> None:
    done = wait_quiet(storage, runs)
    admin.clear_faults()  # the checks below talk to the simulator too
    log = admin.requests()

    def accepted(product: str, suffix: str) -> int:
        return sum(
            1
            for r in log
            if r["method"] == "POST"
            and product in r["path"]
            and r["path"].endswith(suffix)
            and 200 <= r["status"] < 300
        )

    # What exists at Partner Center (a POST whose answer was lost still made one).
    submissions = [
        len(admin.ingestion("GET", f"products/{p}/submissions").json()["value"])
        for p in runs.values()
    ]
    promotes = [accepted(p, "/promote") for p in runs.values()]
    for request_id, product in runs.items():
        run = done[request_id]
        # No submission promoted that the run did not create.
        promoted = {
            r["path"].split("/submissions/")[1].split("/")[0]
            for r in log
            if r["method"] == "POST"
            and product in r["path"]
            and r["path"].endswith("/promote")
            and 200 <= r["status"] < 300
        }
        assert promoted <= {run.submission_id}, (row, request_id, promoted)
        # Submitted modules are the run's changed modules (and what the service requires).
        if run.changed_modules and run.submission_id:
            sub = admin.ingestion("GET", f"products/{product}/submissions/{run.submission_id}")
            listed = {
                f"{r['type']}@{v['variantID']}"
                for v in sub.json()["variantResources"]
                for r in v["resources"]
            } | {r["type"] for r in sub.json()["resources"]}
            beside = of_run(run.offer_type).submitted_beside(set(run.changed_modules))
            assert listed - beside == set(run.changed_modules), (row, listed)
    for run in done.values():
        stages = [Stage(s.stage) for s in run.timeline]
        for before, after in itertools.pairwise(stages):
            assert ORDER.index(after) > ORDER.index(before) or (
                (before, after) in LEGAL_BACKSTEP
            ), (row, run.run_id, stages)
        if run.status is not RunStatus.SUCCEEDED:
            assert run.reason, (row, run.run_id)
    for (request_id, _), n in zip(runs.items(), submissions, strict=True):
        wanted = 1 if done[request_id].status is RunStatus.SUCCEEDED else n
        assert n == wanted and n <= 1, (row, request_id, n)
    assert all(n <= 1 for n in promotes), (row, promotes)
    poison = poison_messages(storage)
    secrets = [stack.sim_config["clientSecret"], stack.sim_config["identityClientSecret"], *ROTATED]
    leaked = 0
    for name in ("host.log", "simulator.log"):
        text = (stack.workdir / name).read_text()
        leaked += sum(text.count(s) for s in secrets) + len(JWT.findall(text))
    ROWS.append(
        {
            "fault": row,
            "runs": len(runs),
            "succeeded": sum(r.status is RunStatus.SUCCEEDED for r in done.values()),
            "failed_with_reason": sum(
                r.status is RunStatus.FAILED and bool(r.reason) for r in done.values()
            ),
            "submissions_per_run": sorted(set(submissions)),
            "promotes_per_run": sorted(set(promotes)),
            "poison_left": len(poison),
            "secrets_or_tokens_in_logs": leaked,
            "throttled_429": _throttled(stack, admin),
        }
    )
    assert poison == [], row
    assert leaked == 0, row
    assert all(expect(r) for r in done.values()), {
        rid: (r.status, r.reason) for rid, r in done.items()
    }


ROTATED: list[str] = []


def _throttled(stack: LocalStack, admin: SimulatorClient) -> int:
    """429s the simulator sent during this row."""
    total = int(admin.http.get(f"{stack.sim_config['adminUrl']}/stats").json()["throttled"])
    row, _throttled_before[0] = total - _throttled_before[0], total
    return row


def succeeded(run: Run) -> bool:
    return run.status is RunStatus.SUCCEEDED and run.pc_status == "Published/InStore"
