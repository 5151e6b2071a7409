"""The poller's sweeps on real storage: a run whose message was lost is re-driven, a run past
its deadline fails with where it stood, and pipeline messages never expire."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from datetime import timedelta
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError

from shared.ledger import Run, RunStatus, StageRecord, now_utc, stamp
from shared.messages import Stage, StageMessage
from shared.partnercenter.budget import TenantBudget
from shared.partnercenter.budget_row import CONTROL, ROW
from shared.pipeline.checks import handle_check_message
from shared.pipeline.dispatched import Dispatched
from shared.pipeline.effects import Pipeline
from shared.pipeline.poller import poll_due
from shared.queues import CHECKS, STAGE_QUEUES
from tests.integration.conftest import proven

pytestmark = pytest.mark.usefixtures("quiet_index")  # the ticks here read this test's runs


def put_run(pipeline: Pipeline, run: Run, updated_ago: timedelta) -> None:
    """Write a run as if it was last touched `updated_ago` (bypassing replace's timestamp)."""
    run = run.evolve(updated_at=stamp(now_utc() - updated_ago))
    pipeline.ledger.index.put(run)  # as the ledger's own writes keep it
    pipeline.ledger.table().upsert_entity(run.to_entity())


def run_checks(pipeline: Pipeline, run_id: str) -> int:
    """Run the checks the tick sent for `run_id` (the check queue's work); how many ran."""
    queue = pipeline.queues.client(CHECKS)
    ran = 0
    for message in queue.receive_messages(max_messages=32, visibility_timeout=1):
        if run_id.encode() in message.content:
            handle_check_message(pipeline, message.content)
            queue.delete_message(message)
            ran += 1
    return ran


def a_run(run_id: str, status: RunStatus, stage: Stage, ago: timedelta, **fields: Any) -> Run:
    """A run made `ago`, at `stage` since then."""
    at = stamp(now_utc() - ago)
    return Run(
        run_id=run_id,
        status=status,
        stage=stage,
        offer="offer:x",
        created_at=at,
        timeline=[StageRecord(stage=stage, started=at)],
        **fields,
    )


def test_a_run_that_lost_its_message_is_redriven(pipeline: Pipeline) -> None:
    run = a_run(
        "stalled-1", RunStatus.RUNNING, Stage.SUBMIT_PREVIEW, timedelta(hours=1), target="preview"
    )
    put_run(pipeline, run, timedelta(hours=1))
    assert poll_due(pipeline) >= 1
    queue = pipeline.queues.client(STAGE_QUEUES[Stage.SUBMIT_PREVIEW])
    sent = [StageMessage.model_validate_json(m.content.decode()) for m in queue.peek_messages(32)]
    assert ("stalled-1", Stage.SUBMIT_PREVIEW) in {(m.run_id, m.stage) for m in sent}
    [message] = [m for m in queue.peek_messages(32) if b"stalled-1" in m.content]
    assert message.expires_on is None or message.expires_on.year >= 9999  # never expires
    again = pipeline.ledger.get("stalled-1")
    assert again is not None and again.status is RunStatus.RUNNING


def test_a_dead_lettered_run_is_left_for_the_operator(pipeline: Pipeline) -> None:
    at = stamp(now_utc() - timedelta(hours=1))
    run = Run(
        run_id="stalled-dl",
        status=RunStatus.RUNNING,
        stage=Stage.PROMOTE,
        target="live",
        created_at=at,
        dead_letter="pc-promote: a bug",
    )
    put_run(pipeline, run, timedelta(hours=1))
    poll_due(pipeline)
    queue = pipeline.queues.client(STAGE_QUEUES[Stage.PROMOTE])
    try:
        waiting = [m for m in queue.peek_messages(32) if b"stalled-dl" in m.content]
    except ResourceNotFoundError:
        waiting = []  # nothing was ever sent there
    assert waiting == []


def test_a_run_past_its_deadline_fails_with_where_it_stood(pipeline: Pipeline) -> None:
    created = stamp(now_utc() - timedelta(days=30))
    run = Run(
        run_id="too-old-1",
        status=RunStatus.WAITING,
        stage=Stage.AWAIT_PREVIEW,
        target="live",
        offer="offer:x",
        created_at=created,
        pc_status="InProgress/Submitted",
        reason="certification for preview",
        next_check_at=stamp(now_utc()),
        timeline=[StageRecord(stage=Stage.AWAIT_PREVIEW, started=created)],
    )
    put_run(pipeline, run, timedelta(minutes=1))
    poll_due(pipeline)
    assert run_checks(pipeline, "too-old-1") == 1  # its check finds the deadline passed
    failed = pipeline.ledger.get("too-old-1")
    assert failed is not None
    assert failed.status is RunStatus.FAILED
    assert "deadline of 336 h passed at stage await_preview" in (failed.reason or "")
    assert "InProgress/Submitted" in (failed.reason or "")


def test_a_run_parked_in_a_wait_whose_row_is_lost_is_reported_once(pipeline: Pipeline) -> None:
    at = stamp(now_utc() - timedelta(hours=1))
    run = Run(
        run_id="parked-lost-1",
        status=RunStatus.WAITING,
        stage=Stage.AWAIT_LIVE,
        target="live",
        offer="contoso-parked",
        product_id="prod-parked",
        created_at=at,
        next_check_at=stamp(now_utc()),  # its check is due; it has no message in flight
    )
    put_run(pipeline, run, timedelta(hours=1))
    pipeline.ledger.table().delete_entity("run", "parked-lost-1")  # the row is gone
    poll_due(pipeline)
    assert run_checks(pipeline, "parked-lost-1") == 1  # its check finds no run to check
    lost = pipeline.ledger.get("parked-lost-1")
    assert lost is not None and lost.status is RunStatus.FAILED
    assert "offer contoso-parked, product prod-parked" in (lost.reason or "")
    assert "at stage await_live: it was lost" in (lost.reason or "")
    events = pipeline.queues.client("pc-events")
    told = [m for m in events.peek_messages(32) if b"parked-lost-1" in m.content]
    poll_due(pipeline)  # reported once: the index no longer names it
    assert run_checks(pipeline, "parked-lost-1") == 0
    assert len([m for m in events.peek_messages(32) if b"parked-lost-1" in m.content]) == 1
    assert len(told) == 1 and b'"failed"' in told[0].content


def test_a_due_check_is_dispatched_once_and_a_stale_copy_is_consumed(pipeline: Pipeline) -> None:
    """The tick sends a due check to pc-check once (not again while it is on its way); the
    check runs there and sets the next one; a copy of the message arriving later is stale."""
    pipeline = dataclasses.replace(pipeline, budget=None, dispatched=Dispatched())
    at = stamp(now_utc() - timedelta(minutes=5))
    run = Run(
        run_id="check-once-1",
        status=RunStatus.WAITING,
        stage=Stage.AWAIT_GO_LIVE,
        target="live",
        offer="offer:x",
        not_before="2099-01-01T00:00Z",
        created_at=at,
        next_check_at=stamp(now_utc() - timedelta(seconds=1)),
        timeline=[StageRecord(stage=Stage.AWAIT_GO_LIVE, started=at)],
    )
    put_run(pipeline, run, timedelta(seconds=30))
    poll_due(pipeline)
    poll_due(pipeline)  # the check is on its way: not sent again
    queue = pipeline.queues.client(CHECKS)
    mine = [m for m in queue.receive_messages(max_messages=32) if b"check-once-1" in m.content]
    assert len(mine) == 1
    message = StageMessage.model_validate_json(mine[0].content.decode())
    assert message.stage is Stage.AWAIT_GO_LIVE and message.check_at == run.next_check_at
    handle_check_message(pipeline, mine[0].content.decode())
    checked = pipeline.ledger.get("check-once-1")
    assert checked is not None and checked.status is RunStatus.WAITING
    assert (checked.next_check_at or "") > (run.next_check_at or "")
    assert "goes live at 2099-01-01T00:00Z" in (checked.reason or "")
    handle_check_message(pipeline, mine[0].content.decode())  # a late copy
    again = pipeline.ledger.get("check-once-1")
    assert again is not None and again.etag == checked.etag  # untouched
    queue.delete_message(mine[0])


def test_a_stale_index_row_sends_one_check_which_mends_it(pipeline: Pipeline) -> None:
    """The index says a check is due that the run itself has moved past (a write that died
    between the two, a minute and more ago): the check it sends is consumed as stale, calls
    nothing, and mends the row, so the next tick sends nothing."""
    pipeline = dataclasses.replace(pipeline, budget=None, dispatched=Dispatched())
    later = stamp(now_utc() + timedelta(hours=1))
    run = a_run(
        "stale-index-1",
        RunStatus.WAITING,
        Stage.AWAIT_LIVE,
        timedelta(minutes=5),
        target="live",
        next_check_at=later,
    )
    put_run(pipeline, run, timedelta(seconds=30))
    stale = run.evolve(next_check_at=stamp(now_utc() - timedelta(seconds=5)))
    pipeline.ledger.index.put(stale.evolve(updated_at=stamp(now_utc() - timedelta(seconds=90))))
    stored = pipeline.ledger.get("stale-index-1")
    poll_due(pipeline)
    assert run_checks(pipeline, "stale-index-1") == 1
    after = pipeline.ledger.get("stale-index-1")
    assert after is not None and stored is not None and after.etag == stored.etag  # untouched
    row = pipeline.ledger.index.get("stale-index-1")
    assert row is not None and row.next_check_at == later  # mended from the run
    pipeline = dataclasses.replace(pipeline, dispatched=Dispatched())  # even a new timer
    poll_due(pipeline)
    assert run_checks(pipeline, "stale-index-1") == 0


def test_a_tick_sends_only_the_checks_the_budget_has_room_for(pipeline: Pipeline) -> None:
    """Hundreds of runs waiting on a full budget: a tick sends only the checks the budget has
    room for, those that lead on first (a preview's) and oldest first, and reads none of the
    runs it only hands on (each check reads its own)."""
    budget = TenantBudget(pipeline.ledger, 60)  # 60 calls a minute, 58 of them spent
    with contextlib.suppress(ResourceNotFoundError):
        pipeline.ledger.table().delete_entity(CONTROL, ROW)
    proven(budget)
    assert budget._take(time.time(), 58) == 0
    pipeline = dataclasses.replace(pipeline, budget=budget, dispatched=Dispatched())
    at = stamp(now_utc() - timedelta(hours=1))  # older than any other test's due runs
    ids = {}
    for n, stage in enumerate([Stage.AWAIT_LIVE] * 3 + [Stage.AWAIT_PREVIEW] * 3):
        run_id = f"room-{n}-{stage}"
        ids[run_id] = stage
        due = stamp(now_utc() - timedelta(minutes=59 - n))  # the live polls are the oldest
        put_run(
            pipeline,
            Run(
                run_id=run_id,
                status=RunStatus.WAITING,
                stage=stage,
                target="live",
                offer=f"offer:{run_id}",
                created_at=at,
                next_check_at=due,
                timeline=[StageRecord(stage=stage, started=at)],
            ),
            timedelta(seconds=30),
        )
    read: list[str] = []
    get = pipeline.ledger.get

    def counted(run_id: str) -> Run | None:
        read.append(run_id)
        return get(run_id)

    pipeline.ledger.get = counted  # type: ignore[method-assign]
    try:
        poll_due(pipeline)
    finally:
        del pipeline.ledger.get
        pipeline.ledger.table().delete_entity(CONTROL, ROW)
    assert [r for r in read if r in ids] == []  # a check is sent from its index row
    sent = [m.content for m in pipeline.queues.client(CHECKS).receive_messages(max_messages=32)]
    assert sorted(i for i in ids if any(i.encode() in m for m in sent)) == [
        "room-3-await_preview",
        "room-4-await_preview",
    ]
