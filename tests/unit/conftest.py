"""Fixtures the simulator's unit tests share."""

from __future__ import annotations

import pytest

from pcsim.app import Simulator
from pcsim.world import Product


@pytest.fixture
def product(sim: Simulator) -> Product:
    """A seeded offer of the simulator's world."""
    return next(p for p in sim.world.products.values() if p.offer_id == "contoso-backup")
