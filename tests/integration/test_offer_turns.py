"""A run that finds its offer's turn held waits at the `await_turn` check, which asks the
ledger alone (real SDKs on Azurite and the simulator): its checks make no Partner Center call
however long the holder holds the turn, they thin out as the wait grows, and the holder's end
wakes it at once."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta

import pytest

from pcsim.admin import SimulatorClient
from shared.ledger import Run, RunStatus, parse_stamp
from shared.messages import Stage, StageMessage
from shared.pipeline.checks import handle_check_message
from shared.pipeline.effects import Pipeline, apply_outcome
from shared.pipeline.outcomes import Failed
from shared.queues import CHECKS, STAGE_QUEUES
from tests.integration.test_pipeline_storage import messages
from tests.integration.test_resolve_turn import holder, resolved


def stored(pipeline: Pipeline, run_id: str) -> Run:
    run = pipeline.ledger.get(run_id)
    assert run is not None
    return run


def check(pipeline: Pipeline, run: Run) -> Run:
    """Run the waiting run's check as the check function would, at its due time."""
    body = StageMessage(run_id=run.run_id, stage=Stage(run.stage), check_at=run.next_check_at)
    handle_check_message(pipeline, body.to_json())
    return stored(pipeline, run.run_id)


def test_a_run_waits_for_its_offers_turn_without_asking_partner_center(
    pipeline: Pipeline, admin: SimulatorClient
) -> None:
    offer = f"turns-{uuid.uuid4().hex[:8]}"
    product = admin.add_offer(offer, ["basic"])["id"]
    first = resolved(pipeline, offer)
    second = resolved(pipeline, offer)
    third = resolved(pipeline, offer)  # came last: goes last
    waiting = stored(pipeline, second)
    assert (waiting.status, waiting.stage) == (RunStatus.WAITING, Stage.AWAIT_TURN)
    # It says what the holder is doing (here: running, its submission next).
    assert waiting.reason == (
        f"waiting for run {first} (running at submit_preview), which is publishing this offer"
    )
    assert waiting.product_id == product and holder(pipeline, product) == first
    began = parse_stamp(waiting.timeline[-1].started)
    at = [began]
    driven = dataclasses.replace(
        pipeline,
        clock=lambda: at[0],
        stage_deps=dataclasses.replace(pipeline.stage_deps, now=lambda: at[0]),
    )
    before = len(admin.requests())
    gaps = []
    for waited in (1.0, 100.0, 1000.0):  # checks at its first due time, and much later
        at[0] = began + timedelta(seconds=waited)
        waiting = check(driven, waiting)
        assert (waiting.status, waiting.stage) == (RunStatus.WAITING, Stage.AWAIT_TURN)
        gaps.append((parse_stamp(waiting.next_check_at or "") - at[0]).total_seconds())
    called = [r for r in admin.requests(before) if not r["path"].startswith("/_admin")]
    assert called == []  # three checks, no call (not even for a token)
    assert (
        gaps[0] == pytest.approx(pipeline.stage_deps.poll_seconds) and gaps[0] < gaps[1] < gaps[2]
    )
    # The holder ends: the waiting run is woken, its check sent at once.
    ending = stored(pipeline, first)
    cancelled = Failed(reason="stopped", cancelled=True)
    apply_outcome(driven, ending, Stage(ending.stage), cancelled, 0)
    woken = stored(pipeline, second)
    assert woken.check_sent == woken.next_check_at
    assert parse_stamp(woken.next_check_at or "") == at[0]
    last = stored(pipeline, third)
    assert (last.stage, last.check_sent) == (Stage.AWAIT_TURN, None)  # it waits on
    [sent] = [StageMessage.model_validate_json(m) for m in messages(pipeline, CHECKS)]
    assert (sent.run_id, sent.check_at) == (second, woken.next_check_at)
    after = check(driven, woken)
    assert (after.status, after.stage) == (RunStatus.RUNNING, Stage.RESOLVE)
    assert holder(pipeline, product) == second
    handed = [
        StageMessage.model_validate_json(m) for m in messages(pipeline, STAGE_QUEUES[Stage.RESOLVE])
    ]
    assert second in {m.run_id for m in handed}
    assert [r.stage for r in after.timeline] == ["intake", "resolve", "await_turn", "resolve"]
