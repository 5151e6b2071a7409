"""When a stretch of transient trouble is announced: once it has lasted the threshold, counted
from its first retry (not from when the stage began: a stage held for hours by a foreign
submission or a pause is not in trouble for those hours), and once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.ledger import Run, RunStatus, stamp
from shared.messages import Stage
from shared.pipeline.trouble import noted, over

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
HOUR = 3600.0


def a_run(**fields: str | None) -> Run:
    return Run(run_id="r", status=RunStatus.RUNNING, stage=Stage.SUBMIT_PREVIEW, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("began", "said", "due"),
    [
        (None, None, False),  # its first retry: the stretch begins now
        (timedelta(minutes=59), None, False),
        (timedelta(hours=1), None, True),
        (timedelta(days=3), None, True),
        (timedelta(days=3), stamp(NOW - timedelta(days=2)), False),  # said already
    ],
)
def test_trouble_is_announced_once_it_has_lasted(
    began: timedelta | None, said: str | None, due: bool
) -> None:
    since = stamp(NOW - began) if began is not None else None
    fields, announce = noted(a_run(troubled_since=since, trouble_said=said), NOW, HOUR)
    assert announce is due
    assert fields == {
        "troubled_since": since or stamp(NOW),
        "trouble_said": stamp(NOW) if due else said,
    }


def test_a_retry_that_is_no_trouble_ends_the_stretch_and_says_nothing() -> None:
    """Listing files still processing after hours are Partner Center's work, not trouble."""
    long_ago = stamp(NOW - timedelta(days=1))
    run = a_run(troubled_since=long_ago)
    assert noted(run, NOW, HOUR, troubled=False) == (
        {"troubled_since": None, "trouble_said": None},
        False,
    )


def test_any_other_outcome_ends_the_stretch() -> None:
    troubled = a_run(troubled_since=stamp(NOW), trouble_said=stamp(NOW))
    assert (over(troubled).troubled_since, over(troubled).trouble_said) == (None, None)
    calm = a_run()
    assert over(calm) is calm
