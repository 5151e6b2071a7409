"""Whose a request id is, on Azurite: a request refused at intake spends no id (the corrected
request takes its record over, once), an accepted one keeps it, and `pcpub` refuses to send a
request or a release whose id another payload holds, where the service would refuse it only
after the send, in an event."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from pcpub.azurite import AzuritePorts
from shared.ledger import RunStatus, now_utc
from shared.messages import Stage, StageMessage
from shared.pipeline.effects import Pipeline
from shared.pipeline.intake import accept, accept_request
from shared.queues import PUBLISH_REQUESTS, STAGE_QUEUES
from tests.integration.cli_calls import cli
from tests.integration.conftest import request
from tests.integration.test_pipeline_storage import events, messages

TOO_LONG = {"changes": {"listing": {"title": "x" * 201}}}


def test_a_request_refused_at_intake_spends_no_id(pipeline: Pipeline) -> None:
    request_id, bad = request("contoso-backup", "refused", **TOO_LONG)
    refused = accept_request(pipeline, bad, "m1")
    assert (refused.status, refused.stage) == (RunStatus.REJECTED, Stage.INTAKE)
    good = json.dumps({**json.loads(bad), "changes": {"listing": {"title": "Fixed"}}})
    accepted = accept_request(pipeline, good, "m2")
    stored = pipeline.ledger.get(request_id)
    assert stored is not None and accepted.fingerprint == stored.fingerprint is not None
    assert (stored.status, stored.stage, stored.reason) == (RunStatus.RUNNING, Stage.RESOLVE, None)
    assert stored.changes["listing"]["title"] == "Fixed"
    sent = [
        StageMessage.model_validate_json(m) for m in messages(pipeline, STAGE_QUEUES[Stage.RESOLVE])
    ]
    assert [m.run_id for m in sent] == [request_id]
    # The refused copy delivered again, the corrected one again, and a third payload: the
    # run stays the corrected request's, and the third hears that the id is taken.
    accept_request(pipeline, bad, "m1")
    accept_request(pipeline, good, "m2")
    other = json.dumps({**json.loads(good), "labels": {"try": "3"}})
    accept_request(pipeline, other, "m3")
    after = pipeline.ledger.get(request_id)
    assert after is not None
    assert (after.status, after.fingerprint, after.labels) == (
        RunStatus.RUNNING,
        stored.fingerprint,
        {},
    )
    said = events(pipeline, request_id)
    assert [e["kind"] for e in said] == ["rejected", "accepted", "refused", "duplicate", "refused"]
    # What the id names goes on: the two refused messages say so in a kind of their own, and
    # carry their own request's labels, not the running run's stage or submission.
    assert "title" in said[2]["reason"] and "different payload" in said[2]["reason"]
    assert "different payload" in said[-1]["reason"]
    assert said[-1]["labels"] == {"try": "3"} and said[-1]["stage"] == "intake"
    assert all("submissionId" not in e for e in said)
    # the duplicate sends the hand-off again (the first may have been lost); the rest none
    assert len(messages(pipeline, STAGE_QUEUES[Stage.RESOLVE])) == 2


def test_a_request_refused_again_is_recorded_as_the_latest_refusal(pipeline: Pipeline) -> None:
    """A sender fixing one error at a time reads, by the id, why the last copy was refused
    (the record used to keep the first reason while the event gave the new one)."""
    request_id, first = request("contoso-backup", "again", **TOO_LONG)
    accept_request(pipeline, first, "m1")
    second = json.dumps({**json.loads(first), "changes": {"listing": {"summary": "\x00"}}})
    accept_request(pipeline, second, "m2")
    stored = pipeline.ledger.get(request_id)
    assert stored is not None and (stored.status, stored.stage) == (RunStatus.REJECTED, "intake")
    assert "summary" in (stored.reason or "") and "title" not in (stored.reason or "")
    assert [e["kind"] for e in events(pipeline, request_id)] == ["rejected", "rejected"]
    assert messages(pipeline, STAGE_QUEUES[Stage.RESOLVE]) == []


def test_a_refusal_archived_keeps_its_id(pipeline: Pipeline) -> None:
    request_id, bad = request("contoso-backup", "archived", **TOO_LONG)
    accept_request(pipeline, bad, "m1")
    pipeline.ledger.archive_finished(now_utc() + timedelta(seconds=1))
    good = json.dumps({**json.loads(bad), "changes": {}})
    kept = accept_request(pipeline, good, "m2")
    assert (kept.status, kept.stage) == (RunStatus.REJECTED, Stage.INTAKE)
    assert pipeline.ledger.index.query("RowKey eq @r", {"r": request_id}) == []
    [*_, last] = events(pipeline, request_id)
    assert last["kind"] == "refused" and "since archived" in last["reason"]
    assert messages(pipeline, STAGE_QUEUES[Stage.RESOLVE]) == []


def test_pcpub_sends_no_request_whose_id_another_payload_holds(
    pipeline: Pipeline, azurite: AzuritePorts, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    request_id, body = request("contoso-backup", "cli-ids")
    accept_request(pipeline, body, "m1")
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**json.loads(body), "target": "live"}))
    code, said = cli(azurite, capsys, "enqueue", str(other))
    assert code == 2
    assert f"not sent: requestId {request_id} was already accepted with a different" in said
    assert "(its run is running)" in said
    assert messages(pipeline, PUBLISH_REQUESTS) == []
    same = tmp_path / "same.json"
    same.write_text(json.dumps(json.loads(body), indent=2))  # the same request, spelt again
    code, said = cli(azurite, capsys, "enqueue", str(same))
    assert code == 0 and said.startswith(f"enqueued {request_id}\n")
    assert f"{request_id} was sent before (its run is running at resolve)" in said
    refused_id, bad = request("contoso-backup", "cli-ids", **TOO_LONG)
    accept_request(pipeline, bad, "m2")
    fixed = tmp_path / "fixed.json"
    fixed.write_text(json.dumps({**json.loads(bad), "changes": {}}))
    assert cli(azurite, capsys, "enqueue", str(fixed)) == (0, f"enqueued {refused_id}\n")
    assert len(messages(pipeline, PUBLISH_REQUESTS)) == 2


def test_pcpub_sends_no_release_whose_id_another_payload_holds(
    pipeline: Pipeline, azurite: AzuritePorts, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    release_id = f"cli-rel-{uuid.uuid4().hex[:8]}"
    body = {
        "schemaVersion": 1,
        "releaseId": release_id,
        "target": "preview",
        "offers": [{"name": "base", "offer": {"externalId": "contoso-backup"}}],
    }
    assert accept(pipeline, json.dumps(body), "m1") is not None
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps({**body, "target": "live"}))
    code, said = cli(azurite, capsys, "release", "send", str(changed), "--wait", "live")
    assert code == 1
    assert f"not sent: releaseId {release_id} was already accepted with a different" in said
    assert "following" not in said and "base" not in said  # the old release is not followed
    assert messages(pipeline, PUBLISH_REQUESTS) == []
    again = tmp_path / "again.json"
    again.write_text(json.dumps(body))
    code, said = cli(azurite, capsys, "release", "send", str(again))
    assert (code, said) == (0, f"sent release {release_id} (1 offers)\n")
