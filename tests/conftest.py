"""Shared fixtures: an in-process simulator (httpx.MockTransport) for fast tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pcpub.simulator.app import Simulator
from pcpub.simulator.seed import DEFAULT_SEED
from pcpub.simulator.world import Profile, World
from shared.partnercenter.client import PartnerCenterClient, RetryPolicy
from shared.pipeline.stages import StageDeps

BASE = "https://pc.test"


class SimTokens:
    """Gets real tokens from the simulator's Entra endpoint, through the same transport."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
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
                        "scope": "https://api.partner.microsoft.com/.default",
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


@pytest.fixture
def sim() -> Simulator:
    world = World(json.loads(json.dumps(DEFAULT_SEED)), Profile(accept=1, certify=10, publish=10))
    return Simulator(world, BASE)


def make_client(handler: Any, tokens: Any, **kwargs: Any) -> PartnerCenterClient:
    sleeps: list[float] = []
    client = PartnerCenterClient(
        f"{BASE}/v1.0/ingestion",
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
def deps(pc: PartnerCenterClient) -> StageDeps:
    return StageDeps(pc=pc, poll_seconds=5)
