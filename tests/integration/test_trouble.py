"""A stretch of transient trouble past the threshold is announced on the real events queue,
once: since when and why. Counted from the stretch's first retry, not from the stage's start
(a stage held for hours, then meeting a 503, is not in trouble for hours); the stage getting
on ends the stretch."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta

from shared.ledger import Run, RunStatus, now_utc, stamp
from shared.messages import Stage
from shared.pipeline.effects import Pipeline, apply_outcome
from shared.pipeline.outcomes import Retry, Wait
from shared.pipeline.trouble import AGAIN
from tests.integration.test_pipeline_storage import events
from tests.integration.test_poller import a_run

TROUBLE = Retry(delay_seconds=30, reason="submit_preview: ServerError: 503 Service Unavailable")


def at_stage(pipeline: Pipeline, **fields: str) -> Run:
    """At submit_preview for three hours (held, say), its trouble as `fields` say."""
    name = f"trouble-{uuid.uuid4().hex[:8]}"
    run = a_run(name, RunStatus.RUNNING, Stage.SUBMIT_PREVIEW, timedelta(hours=3), **fields)
    assert pipeline.ledger.create(run)
    return run


def troubled(pipeline: Pipeline, run_id: str) -> list[str]:
    return [e["reason"] for e in events(pipeline, run_id) if e["kind"] == "troubled"]


def apply(pipeline: Pipeline, run_id: str, outcome: Retry | Wait) -> Run:
    run = pipeline.ledger.get(run_id)
    assert run is not None
    return apply_outcome(pipeline, run, Stage.SUBMIT_PREVIEW, outcome, 2)


def test_trouble_that_lasts_is_announced_once_for_its_stretch(pipeline: Pipeline) -> None:
    pipeline = dataclasses.replace(pipeline, trouble_seconds=3600.0)
    began = stamp(now_utc() - timedelta(hours=2))
    fresh = at_stage(pipeline)
    lasting = at_stage(pipeline, troubled_since=began)
    for _ in range(3):  # three deliveries of each, every one a retry
        first = apply(pipeline, fresh.run_id, TROUBLE)
        last = apply(pipeline, lasting.run_id, TROUBLE)
    assert troubled(pipeline, fresh.run_id) == []
    assert first.troubled_since and first.troubled_since > began and not first.trouble_said
    assert troubled(pipeline, lasting.run_id) == [
        f"submit_preview in trouble since {began}: {TROUBLE.reason}; {AGAIN}"
    ]
    assert last.status is RunStatus.RUNNING and last.trouble_said  # it goes on being retried
    moved = apply(pipeline, lasting.run_id, Wait(check=Stage.AWAIT_PREVIEW, delay_seconds=60))
    assert (moved.troubled_since, moved.trouble_said) == (None, None)
