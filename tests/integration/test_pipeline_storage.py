"""Intake, the stage guard and the ledger with the real SDKs on Azurite and the simulator:
duplicates are harmless, bad input is recorded and consumed."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError

from pcsim.admin import SimulatorClient
from shared.ledger import LedgerConflict, RunStatus
from shared.messages import Stage, StageMessage
from shared.pipeline.effects import Pipeline
from shared.pipeline.intake import accept_request
from shared.pipeline.runner import handle_stage_message
from shared.queues import EVENTS, STAGE_QUEUES
from tests.integration.conftest import request


def messages(pipeline: Pipeline, queue: str) -> list[str]:
    try:
        return [m.content.decode() for m in pipeline.queues.client(queue).peek_messages(32)]
    except ResourceNotFoundError:
        return []


def events(pipeline: Pipeline, request_id: str) -> list[dict[str, Any]]:
    found = [json.loads(m) for m in messages(pipeline, EVENTS)]
    return [e for e in found if e["requestId"] == request_id]


def test_the_same_request_twice_is_one_run(pipeline: Pipeline) -> None:
    request_id, body = request("contoso-backup")
    first = accept_request(pipeline, body, "m1")
    again = accept_request(pipeline, body, "m2")
    assert first.run_id == again.run_id == request_id
    assert [e["kind"] for e in events(pipeline, request_id)] == ["accepted", "duplicate"]
    resolve_queue = STAGE_QUEUES[Stage.RESOLVE]
    sent = [StageMessage.model_validate_json(m) for m in messages(pipeline, resolve_queue)]
    # the redelivery re-sends the hand-off the first may have lost; both name the same run
    assert {m.run_id for m in sent} == {request_id}


@pytest.mark.parametrize(
    ("body", "readable_as", "reason"),
    [
        ("{oops", None, "not valid JSON"),
        (
            '{"schemaVersion": 1, "requestId": "bad-fields-1", '
            '"offer": {"externalId": "contoso-x"}, "target": "live", "color": "red"}',
            "bad-fields-1",
            "color: unknown field",
        ),
        (
            '{"schemaVersion": 3, "requestId": "bad-version-1"}',
            "bad-version-1",
            "unsupported schemaVersion 3",
        ),
    ],
)
def test_bad_requests_are_recorded_and_readable(
    pipeline: Pipeline, body: str, readable_as: str | None, reason: str
) -> None:
    message_id = uuid.uuid4().hex
    run = accept_request(pipeline, body, message_id)
    run_id = readable_as or f"rejected-{message_id}"
    stored = pipeline.ledger.get(run_id)
    assert stored is not None
    assert stored.status is RunStatus.REJECTED
    assert reason in (stored.reason or "")
    assert run.run_id == run_id
    assert events(pipeline, run_id)[0]["kind"] == "rejected"
    assert messages(pipeline, STAGE_QUEUES[Stage.RESOLVE]) == []


def test_duplicate_stage_messages_create_one_submission(
    pipeline: Pipeline, sim_config: dict[str, Any]
) -> None:
    request_id, body = request("fabrikam-monitor")
    accept_request(pipeline, body, "m1")
    resolve_msg = StageMessage(run_id=request_id, stage=Stage.RESOLVE).to_json()
    handle_stage_message(pipeline, Stage.RESOLVE, resolve_msg)
    handle_stage_message(pipeline, Stage.RESOLVE, resolve_msg)  # redelivered
    draft_msg = StageMessage(run_id=request_id, stage=Stage.UPDATE_DRAFT).to_json()
    handle_stage_message(pipeline, Stage.UPDATE_DRAFT, draft_msg)
    handle_stage_message(pipeline, Stage.UPDATE_DRAFT, draft_msg)  # redelivered
    submit_msg = StageMessage(run_id=request_id, stage=Stage.SUBMIT_PREVIEW).to_json()
    handle_stage_message(pipeline, Stage.SUBMIT_PREVIEW, submit_msg)
    handle_stage_message(pipeline, Stage.SUBMIT_PREVIEW, submit_msg)  # redelivered
    run = pipeline.ledger.get(request_id)
    assert run is not None
    assert run.status is RunStatus.WAITING
    assert run.stage == Stage.AWAIT_PREVIEW
    assert run.submission_id
    admin = SimulatorClient(sim_config)
    try:
        creates = [
            r
            for r in admin.requests()
            if r["method"] == "POST" and r["path"].endswith(f"{run.product_id}/submissions")
        ]
    finally:
        admin.close()
    assert len(creates) == 1


def test_ledger_writes_are_conditional(pipeline: Pipeline) -> None:
    request_id, body = request("contoso-analytics")
    accept_request(pipeline, body, "m1")
    run = pipeline.ledger.get(request_id)
    assert run is not None
    pipeline.ledger.replace(run.evolve(pc_status="first"))
    with pytest.raises(LedgerConflict):
        pipeline.ledger.replace(run.evolve(pc_status="second"))
    stored = pipeline.ledger.get(request_id)
    assert stored is not None
    assert stored.pc_status == "first"


def test_garbage_stage_messages_are_consumed(pipeline: Pipeline) -> None:
    handle_stage_message(pipeline, Stage.RESOLVE, "not json")
    handle_stage_message(
        pipeline, Stage.RESOLVE, StageMessage(run_id="no-such-run", stage=Stage.RESOLVE).to_json()
    )
    assert messages(pipeline, STAGE_QUEUES[Stage.SUBMIT_PREVIEW]) == []
