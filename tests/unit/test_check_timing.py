"""A tick sends the checks due before the next tick, each to run at its own time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

from shared.pipeline.checks import MAX_AHEAD_SECONDS, dispatch, due_early, hold_until_due
from shared.pipeline.dispatched import Dispatched
from shared.pipeline.effects import Pipeline
from shared.queues import CHECKS
from shared.run_index import IndexRow
from shared.runs import stamp

NOW = datetime(2026, 12, 5, 3, 0, 0, 250000, tzinfo=UTC)


def _pipeline(slept: list[float] | None = None) -> Pipeline:
    fake: Any = SimpleNamespace(
        clock=lambda: NOW,
        stage_deps=SimpleNamespace(poll_seconds=60.0),
        sleep=(slept if slept is not None else []).append,
    )
    return cast(Pipeline, fake)


def test_a_tick_looks_ahead_to_the_timers_next_occurrence() -> None:
    pipeline = _pipeline()
    assert due_early(pipeline, {"Next": "2026-12-05T03:01:00+00:00"}) == 59.75
    assert due_early(pipeline, {"Next": "2026-12-05T03:00:01.0000000+00:00"}) == 0.75
    assert due_early(pipeline, {"Next": "2026-12-05T03:00:01"}) == 0.75  # the host's UTC
    assert due_early(pipeline, {"Next": "2026-12-05T04:00:00Z"}) == MAX_AHEAD_SECONDS
    assert due_early(pipeline, {"Next": "2026-12-05T02:00:00Z"}) == 0.0  # a late tick


def test_without_a_readable_schedule_status_half_the_poll_interval() -> None:
    pipeline = _pipeline()
    assert due_early(pipeline, None) == 30.0
    assert due_early(pipeline, {}) == 30.0
    assert due_early(pipeline, {"Next": "soon"}) == 30.0


def test_a_check_holds_for_its_own_time_and_no_longer() -> None:
    slept: list[float] = []
    pipeline = _pipeline(slept)
    hold_until_due(pipeline, stamp(NOW + timedelta(seconds=0.5)))
    hold_until_due(pipeline, stamp(NOW - timedelta(seconds=3)))  # late: at once
    hold_until_due(pipeline, stamp(NOW + timedelta(seconds=30)))  # far early: at once
    hold_until_due(pipeline, None)
    assert slept == [0.5]


def test_a_checks_delay_counts_from_its_send_not_from_the_ticks_start() -> None:
    """A tick that took 0.6 s to read what is due sends a check due 1.4 s after its start
    visible at once: counted from the start (a whole second), it would show 0.2 s late."""
    sent: list[tuple[str, float | None]] = []
    fake: Any = SimpleNamespace(
        clock=lambda: NOW + timedelta(seconds=0.6),
        dispatched=Dispatched(),
        queues=SimpleNamespace(
            send=lambda q, body, delay_seconds=None: sent.append((q, delay_seconds))
        ),
    )
    due = stamp(NOW + timedelta(seconds=1.4))
    row = IndexRow("r-1", "await_preview", "o", "p", "s", stamp(NOW), next_check_at=due)
    dispatch(cast(Pipeline, fake), row, NOW)
    dispatch(cast(Pipeline, fake), row, NOW)  # this tick sent it: once
    assert sent == [(CHECKS, 0)]
