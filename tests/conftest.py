"""Shared fixtures: an in-process simulator (httpx.MockTransport) for fast tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from pcsim.admin import SimulatorClient
from pcsim.app import Simulator
from pcsim.contract import Contract
from pcsim.seed import DEFAULT_SEED
from pcsim.timing import Profile
from pcsim.world import World
from shared.ledger import Run
from shared.partnercenter.client import PartnerCenterClient, RetryPolicy
from shared.partnercenter.lookup import ProductIngestionLookup
from shared.pipeline.outcomes import Checkpoint, Outcome, Patch
from shared.pipeline.stages import StageDeps
from shared.request_changes import PackageSource

BASE = "https://pc.test"
# The ingestion API's OpenAPI document, beside the project (absent in some checkouts).
REFERENCE = Path(__file__).resolve().parents[2] / "shared/reference/partner-ingestion-openapi.json"


class SimTokens:
    """Gets real tokens from the simulator's Entra endpoint, through the same transport."""

    def __init__(self, sim: Simulator, scope: str = "https://api.partner.microsoft.com") -> None:
        self.sim = sim
        self.scope = scope
        self.issued = 0
        self.invalidated = 0
        self._token: str | None = None

    def token(self) -> str:
        if self._token is None:
            app = next(a for a in self.sim.world.apps.values() if a.vault_secret_name)
            response = self.sim.transport(
                httpx.Request(
                    "POST",
                    f"{BASE}/{self.sim.world.tenant_id}/oauth2/v2.0/token",
                    data={
                        "grant_type": "client_credentials",
                        "client_id": app.client_id,
                        "client_secret": app.secret,
                        "scope": f"{self.scope}/.default",
                    },
                )
            )
            self._token = response.json()["access_token"]
            self.issued += 1
        return self._token

    def invalidate(self) -> None:
        self._token = None
        self.invalidated += 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tier markers follow the folder, so `-m "not e2e"` and friends work."""
    for item in items:
        for tier in ("integration", "e2e", "faults"):
            if f"/tests/{tier}/" in str(item.path):
                item.add_marker(getattr(pytest.mark, tier))


def reference() -> Path | None:
    """The OpenAPI document, for simulators to check their answers with (when it is there)."""
    return REFERENCE if REFERENCE.exists() else None


def assert_conforms(sim_config: dict[str, Any]) -> None:
    """A subprocess simulator's answers all matched the document (it checks as it answers)."""
    admin = SimulatorClient(sim_config)
    try:
        report = admin.contract()
    finally:
        admin.close()
    assert report["problems"] == [], report["problems"]


@pytest.fixture
def sim() -> Iterator[Simulator]:
    """An in-process simulator whose every ingestion answer is checked against the OpenAPI
    document (when it is there): a test fails if the simulator contradicts the contract."""
    world = World(json.loads(json.dumps(DEFAULT_SEED)), Profile(accept=1, certify=10, publish=10))
    contract = Contract(REFERENCE) if REFERENCE.exists() else None
    simulator = Simulator(world, BASE, contract)
    yield simulator
    if contract is not None:
        assert contract.found == [], contract.found


def make_client(
    handler: Any, tokens: Any, base: str = f"{BASE}/v1.0/ingestion", **kwargs: Any
) -> PartnerCenterClient:
    sleeps: list[float] = []
    client = PartnerCenterClient(
        base,
        tokens,
        transport=httpx.MockTransport(handler),
        retry=kwargs.pop("retry", RetryPolicy(initial_backoff=0.01, max_backoff=0.02)),
        sleep=sleeps.append,
        **kwargs,
    )
    client.sleeps = sleeps  # type: ignore[attr-defined]
    return client


@pytest.fixture
def pc(sim: Simulator) -> Iterator[PartnerCenterClient]:
    client = make_client(sim.transport, SimTokens(sim))
    yield client
    client.close()


@pytest.fixture
def lookup(sim: Simulator) -> Iterator[ProductIngestionLookup]:
    """The Product Ingestion API lookup, with Graph-audience tokens from the same app."""
    client = make_client(
        sim.transport,
        SimTokens(sim, "https://graph.microsoft.com"),
        base=f"{BASE}/rp/product-ingestion",
    )
    found = ProductIngestionLookup(client)
    yield found
    found.close()


@pytest.fixture
def deps(pc: PartnerCenterClient, lookup: ProductIngestionLookup) -> StageDeps:
    return StageDeps(pc=pc, poll_seconds=5, lookup=lookup)


def settle(fn: Any, run: Run, deps: StageDeps) -> tuple[Outcome, Run]:
    """Run a stage as the runner does, in memory: record each Checkpoint on the run and run
    the stage again. Returns the final outcome (its patch merged with the checkpoints') and
    the run as recorded just before that outcome."""
    merged: dict[str, Any] = {}
    for _ in range(20):
        outcome = fn(run, deps)
        if not isinstance(outcome, Checkpoint):
            if hasattr(outcome, "patch"):
                final = {k: v for k, v in vars(outcome.patch).items() if v is not None}
                outcome = replace(outcome, patch=Patch(**{**merged, **final}))
            return outcome, run
        changes = {k: v for k, v in vars(outcome.patch).items() if v is not None}
        merged.update(changes)
        run = replace(run, **changes, fresh=(*run.fresh, *outcome.fresh), memo=outcome.memo)
    raise AssertionError("the stage kept checkpointing")


def settled(fn: Any) -> Any:
    """`fn` as the runner runs it (see settle)."""

    def stage(run: Run, deps: StageDeps) -> Outcome:
        return settle(fn, run, deps)[0]

    stage.__name__ = fn.__name__
    return stage


def crashed_after_call(fn: Any, run: Run, deps: StageDeps) -> Run:
    """The run as the ledger holds it when a delivery made its call and died before recording
    the result: its checkpoints are there, nothing after them."""
    _, recorded = settle(fn, run, deps)
    return replace(recorded, fresh=(), memo=None)


@pytest.fixture
def http(sim: Simulator) -> Iterator[httpx.Client]:
    """A plain client of the in-process simulator's ingestion API, signed in."""
    with httpx.Client(
        transport=httpx.MockTransport(sim.transport),
        base_url=f"{BASE}/v1.0/ingestion",
        headers={"Authorization": f"Bearer {SimTokens(sim).token()}"},
    ) as client:
        yield client


class SimFiles:
    """Package bytes from memory, uploaded to the simulator's SAS endpoint in-process."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.uploads = 0

    def check(self, source: PackageSource) -> int:
        return len(self.read(source))

    def read(self, source: PackageSource) -> bytes:
        return b"PK\x03\x04 " + (source.staged or "").encode()

    def upload(self, sas_uri: str, data: bytes) -> None:
        self.uploads += 1
        client = httpx.Client(transport=httpx.MockTransport(self.sim.transport))
        client.put(
            sas_uri, content=data, headers={"x-ms-blob-type": "BlockBlob"}
        ).raise_for_status()
