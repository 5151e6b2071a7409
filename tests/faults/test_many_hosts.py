"""Three instances of the function app on one stack, as Azure scales out: the timer poller
runs on one instance at a time (the holder of its listener lease) and moves to another when
that instance dies; a run whose messages a killed instance held is finished by the others, and
the matrix's invariants hold."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pcpub.ops import Storage
from pcpub.stack import LocalStack
from pcsim.admin import SimulatorClient
from shared.ledger import RunStatus
from tests.faults.matrix import check_nothing_lost, fault_stack, start_runs

pytestmark = pytest.mark.faults
HOSTS = 3


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    yield from fault_stack(tmp_path_factory, "many-hosts", hosts=HOSTS)


def logs(stack: LocalStack) -> list[Path]:
    return [stack.workdir / "host.log", *(stack.workdir / f"host-{i}.log" for i in (2, 3))]


def lease_takers(stack: LocalStack, function: str) -> list[int]:
    """Which instances took the timer's listener lease, in the order their logs say."""
    found = []
    for index, path in enumerate(logs(stack)):
        for line in path.read_text().splitlines():
            entry = json.loads(line) if line.startswith("{") else {}
            if entry.get("action") == "timer_lease_taken" and entry.get("function") == function:
                found.append(index)
    return found


def test_the_poller_runs_on_one_instance_and_moves_when_it_dies(
    stack: LocalStack, storage: Storage, admin: SimulatorClient
) -> None:
    time.sleep(3)  # a few poller periods (1 s)
    takers = lease_takers(stack, "poller")
    assert len(takers) == 1, takers  # one instance holds it; the others stand by
    holder = takers[0]
    stack.kill_host(holder)
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and len(lease_takers(stack, "poller")) < 2:
        time.sleep(0.5)
    takers = lease_takers(stack, "poller")
    assert len(takers) == 2 and takers[1] != holder, takers
    stack.restart_host(index=holder)  # back to three for the next row


def test_an_instance_killed_mid_run_loses_nothing(
    stack: LocalStack, storage: Storage, admin: SimulatorClient
) -> None:
    runs = start_runs(storage, admin, "three-hosts", count=6)
    time.sleep(1.5)
    stack.kill_host(1)  # its leased messages come back after the lease (4 s here)
    check_nothing_lost(
        "three-hosts-one-killed",
        stack,
        storage,
        admin,
        runs,
        lambda run: run.status is RunStatus.SUCCEEDED,
    )
    stack.restart_host(index=1)
