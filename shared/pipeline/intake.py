"""Intake: validate a publish request before any Partner Center call and open its run.

A bad request is recorded as rejected (readable by its requestId, or by the queue message id
when it has none) with a bounded reason that echoes no value, announced on the events queue,
and consumed. The same requestId twice with the same payload is one run (a redelivery after a
crash re-sends the hand-off the first delivery may not have made); with another payload it is
a conflict the sender hears of in a `refused` event, and the first run is untouched. A request
refused here never started, so it spends no id: a corrected request with the same requestId
takes the refused record over (as a payment API's idempotency key is not spent by a request
that failed validation), and so does a request refused again (the record says the latest).
"""

from __future__ import annotations

import logging

from shared.ledger import Run, RunStatus, StageRecord, stamp
from shared.messages import EventKind, Stage
from shared.pipeline.effects import Pipeline, send_stage
from shared.pipeline.events import emit, refused
from shared.pipeline.release_intake import accept_release, open_run, requested
from shared.publish_request import (
    PublishRequest,
    RequestRejected,
    check_policy,
    parse_publish_request,
)
from shared.release_request import ReleaseRequest, parse_request
from shared.releases import Release
from shared.request_ids import id_taken, refused_at_intake

log = logging.getLogger(__name__)


def rejected_run_id(message_id: str) -> str:
    return f"rejected-{message_id}"


def accept(pipeline: Pipeline, body: str | bytes, message_id: str) -> Run | Release | None:
    """A body from the request queue: a single request (its run) or a release (its record,
    or None when it was refused as a conflicting duplicate)."""
    at = stamp(pipeline.clock())
    pipeline.know_secrets()  # so a request carrying the live secret is recognised
    try:
        request = parse_request(body)
        if isinstance(request, ReleaseRequest):
            return accept_release(pipeline, request, at)
        check_policy(request, url_hosts=pipeline.package_url_hosts)
    except RequestRejected as exc:
        return _reject(pipeline, exc, message_id, at)
    return _open(pipeline, request, at)


def accept_request(pipeline: Pipeline, body: str | bytes, message_id: str) -> Run:
    """Open (or find) the run for a single request; returns the run as recorded."""
    at = stamp(pipeline.clock())
    pipeline.know_secrets()
    try:
        request = parse_publish_request(body)
        check_policy(request, url_hosts=pipeline.package_url_hosts)
    except RequestRejected as exc:
        return _reject(pipeline, exc, message_id, at)
    return _open(pipeline, request, at)


def _open(pipeline: Pipeline, request: PublishRequest, at: str) -> Run:
    run = _new_run(request, at)
    opened = open_run(pipeline.ledger, run)
    existing = None if opened else _held(pipeline, run)
    if existing is None:
        if not opened:
            log.info(
                "request took over a refused request's id",
                extra={"action": "request_corrected", "requestId": run.run_id},
            )
        log.info(
            "request accepted",
            extra={"action": "request_accepted", "requestId": run.run_id, "offer": run.offer},
        )
        send_stage(pipeline, run, Stage.RESOLVE)
        emit(pipeline, EventKind.ACCEPTED, run)
        return run
    reason = id_taken(existing, run.fingerprint)
    if reason is not None:
        # Same id, another payload: the sender reused an id. The first run stands untouched.
        log.warning(reason, extra={"action": "request_conflict", "requestId": run.run_id})
        refused(pipeline, run.run_id, reason, offer=run.offer, labels=run.labels)
        return existing
    log.info("duplicate request", extra={"action": "request_duplicate", "requestId": run.run_id})
    if existing.status is RunStatus.RUNNING and existing.stage == Stage.RESOLVE:
        send_stage(pipeline, run, Stage.RESOLVE)
    emit(pipeline, EventKind.DUPLICATE, existing)
    return existing


def _held(pipeline: Pipeline, run: Run) -> Run | None:
    """The run that holds the request's id, or None when `run` took over the record of one
    refused at intake under it (the sender corrected it, or it was refused again). The
    takeover is conditional on that record's ETag: of two deliveries, one does, and the other
    reads what it wrote; an archived record is not in the hot table, so it is not taken over."""
    existing = pipeline.ledger.get(run.run_id)
    assert existing is not None
    if not refused_at_intake(existing):
        return existing
    if open_run(pipeline.ledger, run, over=existing):
        return None
    held = pipeline.ledger.get(run.run_id)
    assert held is not None
    return held


def _new_run(request: PublishRequest, at: str) -> Run:
    return Run(
        **requested(request, at),
        run_id=request.request_id,
        status=RunStatus.RUNNING,
        stage=Stage.RESOLVE,
        timeline=[
            StageRecord(stage=Stage.INTAKE, started=at, ended=at, result="ok"),
            StageRecord(stage=Stage.RESOLVE, started=at),
        ],
    )


def _reject(pipeline: Pipeline, exc: RequestRejected, message_id: str, at: str) -> Run:
    run_id = exc.request_id or rejected_run_id(message_id)
    run = Run(
        run_id=run_id,
        status=RunStatus.REJECTED,
        stage=Stage.INTAKE,
        reason=exc.reason,
        created_at=at,
        updated_at=at,
        timeline=[StageRecord(stage=Stage.INTAKE, started=at, ended=at, result="rejected")],
    )
    log.warning(
        "request rejected: %s",
        exc.reason,
        extra={"action": "request_rejected", "requestId": run_id},
    )
    if pipeline.ledger.create(run):
        emit(pipeline, EventKind.REJECTED, run, exc.reason)
        return run
    existing = _held(pipeline, run)
    if existing is None:
        # Refused again (the sender fixing one error at a time): the record says the latest.
        emit(pipeline, EventKind.REJECTED, run, exc.reason)
        return run
    # An invalid copy of an accepted request (or one under an archived refusal's id) must not
    # overwrite what the id names: the message is refused, the run goes on as it was.
    held = id_taken(existing, None) or f"requestId {run_id} names a run already {existing.status}"
    refused(pipeline, run_id, f"{exc.reason}; {held}")
    return existing
