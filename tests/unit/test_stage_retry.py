"""A stage that met a 429 is tried again when what is left of its Retry-After has passed,
counted from when the 429 came, not from when the stage ended (its other reads may have held
it a while after), and never sooner than the pipeline's retry delay; trouble that lasts is
tried again less and less often."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import pytest

from shared.ledger import Run, RunStatus, StageRecord, stamp
from shared.messages import Stage
from shared.partnercenter.errors import ServerError, Throttled
from shared.pipeline import runner, stages
from shared.pipeline.effects import Pipeline
from shared.pipeline.outcomes import Retry


def decide(monkeypatch: pytest.MonkeyPatch, retry_after: float, came_ago: float) -> Retry:
    error = Throttled(
        429,
        "",
        method="GET",
        path="/p",
        request_id=None,
        client_request_id=None,
        retry_after=retry_after,
    )
    error.at = time.monotonic() - came_ago

    def stage(run: Run, deps: Any) -> Any:
        raise error

    monkeypatch.setitem(stages.STAGES, Stage.SUBMIT_PREVIEW, stage)
    pipeline = cast(Pipeline, SimpleNamespace(stage_deps=None, retry_delay_seconds=2.0))
    run = Run(run_id="r", status=RunStatus.RUNNING, stage=Stage.SUBMIT_PREVIEW)
    outcome, _ = runner._decide(pipeline, run, Stage.SUBMIT_PREVIEW)
    assert isinstance(outcome, Retry)
    return outcome


def test_what_is_left_of_the_retry_after_counts_from_when_the_429_came(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert decide(monkeypatch, 40.0, came_ago=30.0).delay_seconds == pytest.approx(10.0, abs=0.5)


def test_a_retry_after_already_over_leaves_the_pipelines_retry_delay(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert decide(monkeypatch, 40.0, came_ago=60.0).delay_seconds == 2.0


NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("began", "delay", "stall"),
    [
        (None, 2.0, 3600),  # its first retry: the pipeline's retry delay
        (timedelta(0), 2.0, 3600),
        (timedelta(minutes=10), 60, 3600),
        (timedelta(days=3), 900, 3600),
        # within half the stall window (the defaults: a 900 s retry would look stalled)
        (timedelta(days=3), 450, 900),
    ],
)
def test_trouble_that_lasts_is_tried_again_less_often(
    monkeypatch: pytest.MonkeyPatch, began: timedelta | None, delay: float, stall: float
) -> None:
    """A tenth of the time the trouble has lasted, up to the longest poll interval: a fault
    of one offer's endpoint that lasts days cost a try every retry delay. Counted from the
    trouble's first retry: the stage here began three days ago (held), which counts for
    nothing."""

    def stage(run: Run, deps: Any) -> Any:
        raise ServerError(503, "", method="GET", path="/p", request_id=None, client_request_id=None)

    monkeypatch.setitem(stages.STAGES, Stage.SUBMIT_PREVIEW, stage)
    pipeline = cast(
        Pipeline,
        SimpleNamespace(
            stage_deps=SimpleNamespace(max_poll_seconds=900.0),
            retry_delay_seconds=2.0,
            stall_seconds=stall,
            clock=lambda: NOW,
        ),
    )
    held = stamp(NOW - timedelta(days=3))
    run = Run(
        run_id="r",
        status=RunStatus.RUNNING,
        stage=Stage.SUBMIT_PREVIEW,
        timeline=[StageRecord(stage=Stage.SUBMIT_PREVIEW, started=held)],
        troubled_since=stamp(NOW - began) if began is not None else None,
    )
    outcome, _ = runner._decide(pipeline, run, Stage.SUBMIT_PREVIEW)
    assert isinstance(outcome, Retry) and outcome.delay_seconds == delay
