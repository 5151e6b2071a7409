"""The fault modules' fixtures on each module's own `stack`: the simulator's admin client,
the stack's storage, and the report of the rows' counts (bench/results/faults.json)."""

from __future__ import annotations

import fcntl
import json
from collections.abc import Iterator

import pytest

from pcpub.ops import Storage
from pcpub.stack import LocalStack
from pcsim.admin import SimulatorClient
from tests.faults.matrix import RESULTS, ROWS


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    """Write the rows' counts once a module is done, over the file's rows of the same name
    (the modules run in two workers, each with its own rows)."""
    yield
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "faults.json"
    with (RESULTS / "faults.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other worker may be merging its rows now
        try:
            kept = json.loads(path.read_text())
        except (OSError, ValueError):
            kept = []
        mine = {row["fault"] for row in ROWS}
        rows = [row for row in kept if row.get("fault") not in mine] + ROWS
        path.write_text(json.dumps(rows, indent=2))
    print("\n" + "\n".join(json.dumps(row) for row in ROWS))


@pytest.fixture(scope="module")
def admin(stack: LocalStack) -> Iterator[SimulatorClient]:
    client = SimulatorClient(stack.sim_config)
    yield client
    client.close()


@pytest.fixture(scope="module")
def storage(stack: LocalStack) -> Storage:
    return Storage(stack.connection_string)
