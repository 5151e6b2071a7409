"""A stage in transient trouble past the threshold is announced on the real events queue,
once per visit: since when and why; later retries of that visit stay quiet, and trouble
younger than the threshold says nothing."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta

from shared.ledger import Run, RunStatus
from shared.messages import Stage
from shared.pipeline.effects import Pipeline, apply_outcome
from shared.pipeline.outcomes import Retry
from shared.pipeline.trouble import TROUBLED
from tests.integration.test_pipeline_storage import events
from tests.integration.test_poller import a_run

AGAIN = "; tried again less and less often"
TROUBLE = Retry(delay_seconds=30, reason="submit_preview: ServerError: 503 Service Unavailable")


def at_stage_since(pipeline: Pipeline, ago: timedelta) -> Run:
    name = f"trouble-{uuid.uuid4().hex[:8]}"
    run = a_run(name, RunStatus.RUNNING, Stage.SUBMIT_PREVIEW, ago)
    assert pipeline.ledger.create(run)
    return run


def troubled(pipeline: Pipeline, run_id: str) -> list[str]:
    return [e["reason"] for e in events(pipeline, run_id) if e["kind"] == "troubled"]


def test_trouble_that_lasts_is_announced_once_per_visit(pipeline: Pipeline) -> None:
    pipeline = dataclasses.replace(pipeline, trouble_seconds=3600.0)
    young = at_stage_since(pipeline, timedelta(minutes=50))
    old = at_stage_since(pipeline, timedelta(hours=3))
    for _ in range(3):  # three deliveries of each, every one a retry
        for made in (young, old):
            run = pipeline.ledger.get(made.run_id)
            assert run is not None
            apply_outcome(pipeline, run, Stage.SUBMIT_PREVIEW, TROUBLE, 2)
    assert troubled(pipeline, young.run_id) == []
    (said,) = troubled(pipeline, old.run_id)
    started = old.timeline[0].started
    assert said == f"submit_preview in trouble since {started}: {TROUBLE.reason}" + AGAIN
    run = pipeline.ledger.get(old.run_id)
    assert run is not None and run.status is RunStatus.RUNNING  # it goes on being retried
    assert (run.timeline[-1].result, run.timeline[-1].calls, run.timeline[-1].ended) == (
        TROUBLED,
        6,
        None,
    )
