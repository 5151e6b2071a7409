"""Dead letters on real storage: the sweep and the operator tools survive any body, strand
nothing, and a poisoned run ends visibly and can be re-opened."""

from __future__ import annotations

import base64
import contextlib
import json
from datetime import timedelta

import pytest
from azure.core.exceptions import ResourceNotFoundError

from pcpub.cli import main
from pcpub.ops import Storage
from pcpub.poison import backlog, poison_messages, redrive
from shared.ledger import Run, RunStatus, StageRecord, now_utc, stamp
from shared.messages import Stage, StageMessage
from shared.pipeline.deadletter import sweep_poison
from shared.pipeline.effects import Pipeline
from shared.queues import PUBLISH_REQUESTS, STAGE_QUEUES, TRIGGERED_QUEUES, poison_queue
from shared.settings import Settings
from shared.storage import queue_client


def _empty_poison_queues(settings: Settings) -> None:
    for queue in TRIGGERED_QUEUES:
        with contextlib.suppress(ResourceNotFoundError):
            queue_client(settings, poison_queue(queue), raw=True).clear_messages()


def test_operator_tools_survive_any_body_and_strand_nothing(settings: Settings) -> None:
    _empty_poison_queues(settings)
    storage = Storage(settings.storage_connection)
    poison = queue_client(settings, poison_queue(PUBLISH_REQUESTS), raw=True)
    with contextlib.suppress(Exception):
        poison.create_queue()
    bodies = ["<<not base64>>", base64.b64encode(b"\xff\xfe\xfd").decode(), "é" * 100]
    for body in bodies:
        poison.send_message(body)
    listed = [p for p in poison_messages(storage) if p["source"] == "poison-queue"]
    assert len(listed) == 3
    assert {p["decodeError"] is not None for p in listed} == {True}
    source = queue_client(settings, PUBLISH_REQUESTS, raw=True)
    with contextlib.suppress(ResourceNotFoundError):
        source.clear_messages()
    assert redrive(storage, {str(p["id"]) for p in listed}) == 3
    assert sorted(str(m.content) for m in source.peek_messages(32)) == sorted(bodies)
    assert list(poison.peek_messages(32)) == []


def test_the_sweep_records_fails_the_run_and_redrive_reopens_it(
    pipeline: Pipeline, settings: Settings
) -> None:
    _empty_poison_queues(settings)
    at = stamp(now_utc() - timedelta(minutes=5))
    run = Run(
        run_id="dl-sweep-1",
        status=RunStatus.RUNNING,
        stage=Stage.PROMOTE,
        target="live",
        offer="offer:dl-sweep",
        product_id="11111111-2222-3333-4444-555555555555",
        created_at=at,
        last_error="promote: KeyError: 'id'",
        timeline=[StageRecord(stage=Stage.PROMOTE, started=at)],
    )
    assert pipeline.ledger.create(run)
    assert pipeline.ledger.locks.acquire(run.product_id or "", run.run_id) is None
    body = StageMessage(run_id=run.run_id, stage=Stage.PROMOTE).to_json()
    poison = queue_client(settings, poison_queue(STAGE_QUEUES[Stage.PROMOTE]), raw=True)
    with contextlib.suppress(Exception):
        poison.create_queue()
    poison.send_message(base64.b64encode(body.encode()).decode())
    assert sweep_poison(pipeline, lambda name: queue_client(settings, name, raw=True)) == 1
    failed = pipeline.ledger.get(run.run_id)
    assert failed is not None and failed.status is RunStatus.FAILED
    assert "KeyError" in (failed.reason or "") and failed.dead_letter
    # The offer's turn was released: another run may take it.
    assert pipeline.ledger.locks.acquire(run.product_id or "", "someone-else") is None
    pipeline.ledger.locks.release(run.product_id or "", "someone-else")
    storage = Storage(settings.storage_connection)
    assert redrive(storage) >= 1
    reopened = pipeline.ledger.get(run.run_id)
    assert reopened is not None
    assert (reopened.status, reopened.stage, reopened.dead_letter) == (
        RunStatus.RUNNING,
        Stage.PROMOTE,
        None,
    )
    queue = queue_client(settings, STAGE_QUEUES[Stage.PROMOTE])
    assert any(run.run_id.encode() in m.content for m in queue.peek_messages(32))


def test_a_flood_of_poison_is_swept_and_redriven_whole(
    pipeline: Pipeline, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """An incident poisons more messages than one receive gives (32): one sweep records them
    all, and a redrive sends them all back, not the first batch only."""
    _empty_poison_queues(settings)
    storage = Storage(settings.storage_connection)
    poison = queue_client(settings, poison_queue(PUBLISH_REQUESTS), raw=True)
    with contextlib.suppress(Exception):
        poison.create_queue()
    for i in range(75):
        poison.send_message(base64.b64encode(f'{{"flood": {i}}}'.encode()).decode())
    assert backlog(storage) == {poison_queue(PUBLISH_REQUESTS): 75}
    assert main(["poison", "list", "--connection-string", settings.storage_connection or ""]) == 0
    said = capsys.readouterr()
    assert len(json.loads(said.out)) == 32
    assert f"{poison_queue(PUBLISH_REQUESTS)} holds about 75 messages" in said.err
    assert sweep_poison(pipeline, lambda name: queue_client(settings, name, raw=True)) == 75
    assert list(poison.peek_messages(1)) == [] and backlog(storage) == {}
    flooded = [p for p in poison_messages(storage) if '"flood"' in str(p["preview"])]
    assert len(flooded) == 75 and {p["source"] for p in flooded} == {"dead-letter"}
    # Straight from the poison queue too (say the sweep could not run): all of them move.
    for i in range(40):
        poison.send_message(base64.b64encode(f'{{"again": {i}}}'.encode()).decode())
    source = queue_client(settings, PUBLISH_REQUESTS, raw=True)
    with contextlib.suppress(ResourceNotFoundError):
        source.clear_messages()
    assert redrive(storage) == 75 + 40
    assert list(poison.peek_messages(1)) == []
    assert source.get_queue_properties().approximate_message_count == 115


def test_a_sweep_stops_taking_batches_when_its_time_is_up(
    pipeline: Pipeline, settings: Settings
) -> None:
    _empty_poison_queues(settings)
    poison = queue_client(settings, poison_queue(PUBLISH_REQUESTS), raw=True)
    with contextlib.suppress(Exception):
        poison.create_queue()
    for i in range(40):
        poison.send_message(base64.b64encode(f'{{"late": {i}}}'.encode()).decode())
    # The deadline, the first batch's check, ten messages: then time is up, mid-batch.
    ticks = iter([0.0] * 12)
    swept = sweep_poison(
        pipeline,
        lambda name: queue_client(settings, name, raw=True),
        seconds=10,
        clock=lambda: next(ticks, 99.0),
    )
    assert swept == 10  # the rest wait for the next tick, still in the poison queue
    assert poison.get_queue_properties().approximate_message_count == 30
