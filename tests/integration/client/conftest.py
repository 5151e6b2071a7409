"""The client tests' fixtures: the simulator's admin client, reset after each test; the
vault secret and its tokens; a client with fast retries; a fresh offer."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from pcsim.admin import SimulatorClient
from shared.credentials import PartnerCenterTokens
from shared.partnercenter.client import PartnerCenterClient
from shared.settings import Settings
from shared.vault import KeyVaultSecret
from tests.integration.client.parts import make


@pytest.fixture
def admin(sim_config: dict[str, Any]) -> Iterator[SimulatorClient]:
    client = SimulatorClient(sim_config)
    yield client
    client.clear_faults()
    client.admin_put("tokens", {"lifetimeSeconds": 3600})
    client.admin_put("paging", {"pageSize": 10})
    client.close()


@pytest.fixture
def parts(settings: Settings) -> Iterator[tuple[KeyVaultSecret, PartnerCenterTokens]]:
    secret = KeyVaultSecret(settings)
    tokens = PartnerCenterTokens(settings, secret)
    yield secret, tokens
    tokens.close()
    secret.close()


@pytest.fixture
def pc(
    settings: Settings, parts: tuple[KeyVaultSecret, PartnerCenterTokens]
) -> Iterator[PartnerCenterClient]:
    client = make(settings, parts[1])
    yield client
    client.close()


@pytest.fixture
def offer(admin: SimulatorClient) -> dict[str, Any]:
    """A fresh offer per test, so no other test's submission is in flight on it."""
    return admin.add_offer(f"faults-{uuid.uuid4().hex[:8]}", ["basic"])
