"""Fault rows for the app's own storage. Its queues, its ledger and the timer's lease live in
one storage account, so an outage takes all of them at once: mid-stage, between a Partner
Center call and its record, while messages are leased and checks are on their way. Storage
restarted (connections refused, then a store that may have lost its last writes) and storage
frozen (requests unanswered past the message leases, as in a network partition): nothing may
be lost or repeated at Partner Center (the matrix's invariants), and the host carries on
once storage is back, without a restart."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from pcpub.ops import Storage
from pcpub.stack import LocalStack
from pcsim.admin import SimulatorClient
from tests.faults.matrix import RUNS_PER_ROW, check_nothing_lost, fault_stack, start_runs, succeeded

pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    yield from fault_stack(tmp_path_factory, "storage", persist_storage=True)


@pytest.mark.parametrize(
    ("row", "outage"),
    [
        ("storage-down", lambda stack: stack.restart_azurite(down_seconds=8)),
        # Past the message leases (4 s here) and the stages' claims.
        ("storage-frozen", lambda stack: stack.freeze_azurite(15)),
    ],
)
def test_storage_outage_mid_run(
    row: str,
    outage: Callable[[LocalStack], None],
    stack: LocalStack,
    storage: Storage,
    admin: SimulatorClient,
) -> None:
    admin.set_faults(latencyMs=100)
    host = stack.hosts[0].pid
    try:
        runs = start_runs(storage, admin, row, count=2 * RUNS_PER_ROW)
        time.sleep(1.5)  # the runs are in their stages, the first submitting
        outage(stack)
    finally:
        admin.clear_faults()
    check_nothing_lost(row, stack, storage, admin, runs, succeeded)
    assert stack.hosts[0].pid == host and stack.host_restarts == 0, row
