"""Events: what requesting systems read from the events queue, and what the notification
sinks get. Every event the app sends goes through `publish`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from shared.ledger import Run, stamp
from shared.messages import Event, EventKind, Stage
from shared.observability import metrics
from shared.publish_request import MAX_REQUEST_BYTES as MAX_EVENT_BYTES, bounded
from shared.queues import EVENTS

if TYPE_CHECKING:
    from shared.pipeline.effects import Pipeline

log = logging.getLogger(__name__)


def emit(pipeline: Pipeline, kind: EventKind, run: Run, reason: str | None = None) -> None:
    """Publish an event of a run for the requesting system; never fails the stage."""
    event = Event(
        kind=kind,
        request_id=run.run_id,
        offer=run.offer or None,
        stage=Stage(run.stage),
        submission_id=run.submission_id,
        product_id=run.product_id,
        release_id=run.release_id or None,
        reason=bounded(reason) if reason else None,
        labels=run.labels,
        at=stamp(pipeline.clock()),
    )
    metrics.run_event(kind, run)
    publish(pipeline, event)


def refused(
    pipeline: Pipeline,
    request_id: str,
    reason: str,
    *,
    offer: str | None = None,
    labels: dict[str, str] | None = None,
    release_id: str | None = None,
) -> None:
    """A message under `request_id` that changed nothing: the run or release holding the id
    goes on as it was. The event says where the message was stopped and why, with the refused
    request's own offer and labels (the sender's, to tell it from the run under the id)."""
    event = Event(
        kind=EventKind.REFUSED,
        request_id=request_id,
        offer=offer or None,
        stage=Stage.INTAKE,
        release_id=release_id,
        reason=bounded(reason),
        labels=labels or {},
        at=stamp(pipeline.clock()),
    )
    publish(pipeline, event)


def publish(pipeline: Pipeline, event: Event) -> None:
    """Every event the app sends goes out here: to the events queue the requesting systems
    read, and to the notification sinks whose filters want it. Never fails the caller (an
    event is a courtesy; the ledger is the record)."""
    metrics.event_published(event)
    said = {
        "requestId": event.request_id,
        "releaseId": event.release_id,
        "offer": event.offer,
        "stage": event.stage and str(event.stage),
    }
    extra = {"action": "event", "kind": str(event.kind)}
    log.info("event %s", event.kind, extra=extra | {k: v for k, v in said.items() if v})
    try:
        pipeline.queues.send(EVENTS, fitted(event))
    except Exception:
        log.exception(
            "could not emit event", extra={"action": "event_failed", "requestId": event.request_id}
        )
    if pipeline.notifier is not None:
        try:
            pipeline.notifier.fan_out(event)
        except Exception:
            log.exception(
                "could not queue notifications",
                extra={"action": "notify_failed", "requestId": event.request_id},
            )


def fitted(event: Event, limit: int = MAX_EVENT_BYTES) -> str:
    """The event as sent: trimmed (reason first, then labels), never dropped, when it would
    not fit a queue message."""
    text = event.to_json()
    if len(text.encode()) <= limit:
        return text
    shorter = event.model_copy(update={"reason": bounded(event.reason or "", 300), "trimmed": True})
    text = shorter.to_json()
    if len(text.encode()) <= limit:
        return text
    return shorter.model_copy(update={"labels": {}}).to_json()
