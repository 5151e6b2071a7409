"""Resolve takes the offer's turn and lists its submissions while it reads the product by id
(real SDKs on Azurite and the simulator): one round trip to Partner Center where there were
two, and a turn taken on a product that is not the offer's is given back."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError

from pcsim.admin import SimulatorClient
from shared.messages import Stage, StageMessage
from shared.offer_locks import LOCKS
from shared.pipeline.effects import Pipeline
from shared.pipeline.intake import accept_request
from shared.pipeline.runner import handle_stage_message
from tests.integration.conftest import request


@pytest.fixture
def slow(admin: SimulatorClient) -> Iterator[None]:
    """Calls that take long enough for two at once to be seen overlapping."""
    admin.set_faults(latencyMs=150)
    yield
    admin.set_faults()


def resolved(pipeline: Pipeline, offer: str) -> str:
    """A run of `offer` to preview, taken through resolve; its id."""
    run_id, body = request(offer, prefix="turn")
    accept_request(pipeline, body, uuid.uuid4().hex)
    message = StageMessage(run_id=run_id, stage=Stage.RESOLVE).to_json()
    handle_stage_message(pipeline, Stage.RESOLVE, message)
    return run_id


def holder(pipeline: Pipeline, product_id: str) -> str | None:
    try:
        return str(pipeline.ledger.table().get_entity(LOCKS, product_id)["run_id"])
    except ResourceNotFoundError:
        return None


def calls(log: list[dict[str, Any]], product_id: str) -> dict[str, dict[str, Any]]:
    """The run's product read and submissions listing, by which they were."""
    found = {}
    for entry in log:
        if entry["method"] != "GET":
            continue
        if entry["path"].endswith(f"/products/{product_id}"):
            found["product"] = entry
        elif entry["path"].endswith(f"/products/{product_id}/submissions"):
            found["submissions"] = entry
    return found


def test_a_remembered_product_is_read_while_its_turn_is_taken(
    pipeline: Pipeline, admin: SimulatorClient, slow: None
) -> None:
    offer = f"turn-{uuid.uuid4().hex[:8]}"
    product = admin.add_offer(offer, ["basic"])["id"]
    pipeline.ledger.remember_product(offer, product)
    before = len(admin.requests())
    run_id = resolved(pipeline, offer)
    run = pipeline.ledger.get(run_id)
    assert run is not None and run.stage == Stage.SUBMIT_PREVIEW, run
    assert holder(pipeline, product) == run_id
    read = calls(admin.requests(before), product)
    first, second = sorted(read.values(), key=lambda e: float(e["time"]))
    assert set(read) == {"product", "submissions"}
    # Both at once: the later started before the earlier had its answer.
    assert float(second["time"]) < float(first["time"]) + first["ms"] / 1000


def test_a_turn_taken_on_a_product_that_is_not_the_offers_is_given_back(
    pipeline: Pipeline, admin: SimulatorClient
) -> None:
    """A remembered product id that names another offer's product (the row is stale, or was
    written by hand): the run finds its own product, holds its turn, and leaves the other's."""
    offer, other = (f"turn-{uuid.uuid4().hex[:8]}" for _ in range(2))
    mine = admin.add_offer(offer, ["basic"])["id"]
    theirs = admin.add_offer(other, ["basic"])["id"]
    pipeline.ledger.remember_product(offer, theirs)
    run_id = resolved(pipeline, offer)
    run = pipeline.ledger.get(run_id)
    assert run is not None and run.product_id == mine
    assert run.stage == Stage.SUBMIT_PREVIEW, run
    assert holder(pipeline, mine) == run_id
    assert holder(pipeline, theirs) is None


def test_a_turn_taken_on_a_product_that_is_gone_is_given_back(
    pipeline: Pipeline, admin: SimulatorClient
) -> None:
    """The remembered product was deleted: its read and its listing both answer 404, and the
    turn taken on it meanwhile is not left behind."""
    offer = f"turn-{uuid.uuid4().hex[:8]}"
    mine = admin.add_offer(offer, ["basic"])["id"]
    gone = str(uuid.uuid4())
    pipeline.ledger.remember_product(offer, gone)
    run_id = resolved(pipeline, offer)
    run = pipeline.ledger.get(run_id)
    assert run is not None and run.product_id == mine
    assert holder(pipeline, mine) == run_id
    assert holder(pipeline, gone) is None
