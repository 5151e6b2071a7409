"""Real processes for the integration tier: Azurite and the simulator, once per session,
on free ports, stopped by PID."""

from __future__ import annotations

import contextlib
import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError

from pcpub.azurite import AzuritePorts, start_azurite
from pcpub.processes import Managed, wait_until
from pcpub.stack import app_settings
from pcsim.admin import SimulatorClient
from shared.ledger import RunStatus
from shared.partnercenter.budget import TenantBudget
from shared.partnercenter.client import PartnerCenterClient
from shared.partnercenter.lookup import ProductIngestionLookup
from shared.pipeline.effects import Pipeline
from shared.queues import ALL_QUEUES
from shared.settings import Settings
from shared.wiring import build_pipeline
from tests.conftest import assert_conforms, reference

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzuritePorts]:
    proc, ports = start_azurite(tmp_path_factory.mktemp("azurite"))
    yield ports
    proc.stop()


@pytest.fixture(scope="session")
def sim_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    yield from simulator(tmp_path_factory)


def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A simulator process of its own (a module that moves its clock starts one)."""
    workdir = tmp_path_factory.mktemp("simulator")
    config = workdir / "config.json"
    proc = Managed(
        "simulator",
        [
            sys.executable,
            "-m",
            "pcpub.cli",
            "simulator",
            "--write-config",
            str(config),
            "--state-dir",
            str(workdir),
            *(["--contract", str(doc)] if (doc := reference()) else []),
        ],
        workdir / "simulator.log",
        cwd=ROOT,
    )
    wait_until(config.exists, 30, "the simulator", proc)
    loaded = json.loads(config.read_text())
    yield loaded
    try:
        assert_conforms(loaded)
    finally:
        proc.stop()


@pytest.fixture
def admin(sim_config: dict[str, Any]) -> Iterator[SimulatorClient]:
    """The simulator's admin API; faults set by a test are cleared after it."""
    client = SimulatorClient(sim_config)
    yield client
    client.clear_faults()
    client.close()


@pytest.fixture
def settings(azurite: AzuritePorts, sim_config: dict[str, Any]) -> Settings:
    return Settings.from_env(app_settings(sim_config, azurite.connection_string))


@pytest.fixture
def pipeline(settings: Settings) -> Iterator[Pipeline]:
    """The real pipeline objects, with the pipeline's queues emptied first."""
    built = build_pipeline(settings)
    for name in ALL_QUEUES:
        with contextlib.suppress(ResourceNotFoundError):
            built.queues.client(name).clear_messages()
    yield built
    pc = built.stage_deps.pc
    if isinstance(pc, PartnerCenterClient):
        pc.close()
    if isinstance(built.stage_deps.lookup, ProductIngestionLookup):
        built.stage_deps.lookup.close()


@pytest.fixture
def quiet_index(pipeline: Pipeline) -> None:
    """No run of an earlier test on this worker's storage is due: a tick takes the oldest
    due checks first, so earlier tests' leftovers would crowd out this test's own."""
    ledger = pipeline.ledger
    ledger.index.ensure_built(ledger.runs)  # built once, so no tick indexes them again
    for row in ledger.index.query("status eq @s", {"s": str(RunStatus.WAITING)}):
        ledger.index.drop(row.run_id)


def proven(budget: TenantBudget) -> TenantBudget:
    """As if the service had let the ceiling's calls through in a window before: the window
    may fill at once (a budget that has proven nothing fills half of it at once)."""
    window, etag = budget.row.read()
    window.proven = budget.pace.ceiling
    assert budget.row.write(window, etag)
    return budget


def request(offer: str, prefix: str = "it", **extra: Any) -> tuple[str, str]:
    """A publish request of `offer` to preview, under a fresh id: the id and the body."""
    request_id = f"{prefix}-{uuid.uuid4().hex[:10]}"
    body = {
        "schemaVersion": 1,
        "requestId": request_id,
        "offer": {"externalId": offer},
        "target": "preview",
        **extra,
    }
    return request_id, json.dumps(body)
