"""When a stage's transient trouble is announced: once it has lasted the threshold, once per
visit to the stage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.ledger import StageRecord, stamp
from shared.messages import Stage
from shared.pipeline.trouble import TROUBLED, marked
from shared.runs import Run, RunStatus, counted_timeline

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
HOUR = 3600.0


def record(
    ago: timedelta,
    stage: Stage = Stage.SUBMIT_PREVIEW,
    ended: str | None = None,
    calls: int = 0,
    result: str | None = None,
) -> StageRecord:
    return StageRecord(
        stage=stage, started=stamp(NOW - ago), ended=ended, calls=calls, result=result
    )


@pytest.mark.parametrize(
    ("timeline", "announced"),
    [
        ([], False),
        ([record(timedelta(minutes=59))], False),  # not yet
        ([record(timedelta(hours=1))], True),
        ([record(timedelta(days=3))], True),
        ([record(timedelta(days=3), result=TROUBLED)], False),  # said already
        ([record(timedelta(days=3), ended=stamp(NOW))], False),  # the stage is over
        ([record(timedelta(days=3), stage=Stage.RESOLVE)], False),  # another stage's
    ],
)
def test_trouble_is_announced_once_it_has_lasted(
    timeline: list[StageRecord], announced: bool
) -> None:
    after = marked(timeline, Stage.SUBMIT_PREVIEW, NOW, HOUR)
    assert (after is not None) is announced
    if after is not None:
        assert after[-1].result == TROUBLED and after[:-1] == timeline[:-1]
        assert (after[-1].started, after[-1].calls) == (timeline[-1].started, timeline[-1].calls)


def test_the_mark_stays_with_the_open_record_as_calls_are_counted() -> None:
    """A later retry adds its calls to the record and keeps the mark: it is not said again."""
    timeline = marked([record(timedelta(days=1), calls=4)], Stage.SUBMIT_PREVIEW, NOW, HOUR)
    assert timeline is not None
    run = Run(run_id="r", status=RunStatus.RUNNING, stage=Stage.SUBMIT_PREVIEW, timeline=timeline)
    counted = counted_timeline(run, Stage.SUBMIT_PREVIEW, 3)
    assert (counted[-1].calls, counted[-1].result) == (7, TROUBLED)
    assert marked(counted, Stage.SUBMIT_PREVIEW, NOW, HOUR) is None
