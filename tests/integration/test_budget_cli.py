"""`pcpub budget`, and the line `pcpub status` adds while Partner Center's Retry-After holds
every call: what the instances' shared budget row says, in an operator's words."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator

import pytest
from azure.core.exceptions import ResourceNotFoundError

from pcpub.azurite import AzuritePorts
from shared.ledger import Run, RunStatus
from shared.messages import Stage
from shared.partnercenter.budget_row import CONTROL, ROW, BudgetRow
from shared.partnercenter.budget_window import Window
from shared.pipeline.effects import Pipeline
from tests.integration.cli_calls import cli


@pytest.fixture(autouse=True)
def no_row(pipeline: Pipeline) -> Iterator[None]:
    """No budget row before or after: another test's would say otherwise."""
    with contextlib.suppress(ResourceNotFoundError):
        pipeline.ledger.table().delete_entity(CONTROL, ROW)
    yield
    with contextlib.suppress(ResourceNotFoundError):
        pipeline.ledger.table().delete_entity(CONTROL, ROW)


def test_pcpub_budget_says_the_rate_the_last_429_and_what_is_held(
    azurite: AzuritePorts, pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    code, said = cli(azurite, capsys, "budget")
    assert code == 0 and "no budget yet" in said
    now = time.time()
    window = Window(
        rate=1141,
        slots={str(int(now)): 30, str(int(now) - 200): 99},  # the 99: long out of the window
        last_429=now - 120,
        changed_at=now - 120,
        knee=1201,
        proven=900,
        hold_until=now + 90,
        pressed={"0": now + 30},
    )
    assert BudgetRow(pipeline.ledger, 0.0).write(window, None)
    code, said = cli(azurite, capsys, "budget")
    assert code == 0
    assert "the tenant's budget: 1141 calls a minute since 20" in said
    assert "; 30 taken in the last minute" in said
    assert "with about 1201 calls a minute in the window" in said
    assert "the rate climbs no higher than 1141 a minute, then on to the ceiling" in said
    assert "calls are held until" in said and "Retry-After" in said
    assert "waiting for room, ahead of lower priorities: submission creates" in said
    code, out = cli(azurite, capsys, "budget", "--json")
    state = json.loads(out)
    assert (state["callsLastMinute"], state["kneePerMinute"], state["pressing"]) == (
        30,
        1201,
        ["submission creates"],
    )
    assert state["heldUntil"] and state["last429"]


def test_pcpub_status_of_a_run_says_when_every_call_is_held(
    azurite: AzuritePorts, pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    waiting = Run(
        run_id=f"held-{uuid.uuid4().hex[:8]}",
        status=RunStatus.WAITING,
        stage=Stage.AWAIT_PREVIEW,
        created_at="2026-12-08T00:00:00Z",
    )
    pipeline.ledger.table().upsert_entity(waiting.to_entity())
    code, said = cli(azurite, capsys, "status", waiting.run_id)
    assert code == 0 and "throttled" not in said  # no row, no hold
    held = Window(rate=600, hold_until=time.time() + 90)
    assert BudgetRow(pipeline.ledger, 0.0).write(held, None)
    code, said = cli(azurite, capsys, "status", waiting.run_id)
    assert "Partner Center throttled the tenant: every call is held until" in said
    code, out = cli(azurite, capsys, "status", waiting.run_id, "--json")
    assert "every call is held" in json.loads(out)["throttled"]
    ended = waiting.evolve(run_id=f"done-{uuid.uuid4().hex[:8]}", status=RunStatus.SUCCEEDED)
    pipeline.ledger.table().upsert_entity(ended.to_entity())
    code, said = cli(azurite, capsys, "status", ended.run_id)
    assert code == 0 and "throttled" not in said  # an ended run is not held
