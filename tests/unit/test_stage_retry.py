"""A stage that met a 429 is tried again when what is left of its Retry-After has passed,
counted from when the 429 came, not from when the stage ended (its other reads may have held
it a while after), and never sooner than the pipeline's retry delay."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any, cast

import pytest

from shared.ledger import Run, RunStatus
from shared.messages import Stage
from shared.partnercenter.errors import Throttled
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
