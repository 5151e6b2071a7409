"""Polls that go where answers come: the usual span of a kind of wait, and the schedule it
shapes (pure: no storage)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shared.ledger import Run, RunStatus, StageRecord, stamp
from shared.messages import Stage
from shared.pipeline.stages import StageDeps
from shared.wait_history import kind_of, learned_delay, usual

STARTED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
HOUR = 3600.0


def test_a_kind_says_nothing_until_five_waits_of_it_are_known() -> None:
    assert usual([HOUR] * 4) is None
    assert usual([HOUR] * 5) == (HOUR, HOUR)


def test_the_usual_span_is_the_tenth_to_the_ninetieth_percentile() -> None:
    waits = [float(s) for s in range(1, 21)]  # 1..20 seconds, in any order
    assert usual(list(reversed(waits))) == (2.0, 18.0)


@pytest.mark.parametrize(
    ("waited", "interval", "expected"),
    [
        (0.0, 60.0, 900.0),  # far from any usual end: the longest interval
        (3 * HOUR, 900.0, 900.0),
        (0.8 * 6 * HOUR - 300, 60.0, 300.0),  # up to 80% of the shortest usual wait
        (0.8 * 6 * HOUR - 60, 900.0, 900.0),  # the plain poll would come after it: plain
        (7 * HOUR, 900.0, 900.0),  # within the usual span and after: the plain schedule
    ],
)
def test_polls_skip_the_part_of_a_wait_where_none_of_its_kind_ended(
    waited: float, interval: float, expected: float
) -> None:
    span = (6 * HOUR, 30 * HOUR)
    assert learned_delay(waited, interval, span, cap=900.0) == pytest.approx(expected)


def test_without_a_history_or_near_its_end_the_plain_interval_stands() -> None:
    assert learned_delay(0.0, 60.0, None, cap=900.0) == 60.0
    # a short usual wait: the first poll moves up to 80% of it, never sooner than planned
    assert learned_delay(0.0, 1.0, (5.5, 6.5), cap=900.0) == pytest.approx(4.4)
    assert learned_delay(0.0, 1.0, (1.0, 2.0), cap=900.0) == 1.0


def waiting(stage: Stage, since: datetime, **fields: object) -> Run:
    return Run(
        run_id="r-1",
        status=RunStatus.WAITING,
        stage=stage,
        offer_type="AzureApplication",
        timeline=[StageRecord(stage=stage, started=stamp(since))],
        **fields,  # type: ignore[arg-type]
    )


def test_a_run_entering_a_wait_polls_first_where_waits_of_its_kind_end(deps: StageDeps) -> None:
    asked: list[str] = []

    def expected(kind: str) -> tuple[float, float] | None:
        asked.append(kind)
        return (2 * HOUR, 5 * HOUR) if kind == "AzureApplication.await_live" else None

    polls = replace(deps, poll_seconds=60, max_poll_seconds=900, expected_wait=expected)
    promoting = replace(waiting(Stage.PROMOTE, STARTED), status=RunStatus.RUNNING)
    now = replace(polls, now=lambda: STARTED)
    assert now.poll_delay(promoting, Stage.AWAIT_LIVE) == 900  # entering the live wait
    assert now.poll_delay(promoting, Stage.AWAIT_PREVIEW) == 60  # nothing known of this kind
    assert asked == ["AzureApplication.await_live", "AzureApplication.await_preview"]
    live = waiting(Stage.AWAIT_LIVE, STARTED)
    at = replace(polls, now=lambda: STARTED + timedelta(hours=1.4))
    assert at.poll_delay(live) == pytest.approx(0.8 * 2 * HOUR - 1.4 * HOUR)  # 12 minutes
    near = replace(polls, now=lambda: STARTED + timedelta(hours=1.5))
    assert near.poll_delay(live) == 540  # the plain poll comes after 80% of it: plain
    after = replace(polls, now=lambda: STARTED + timedelta(hours=3))
    assert after.poll_delay(live) == 900  # a tenth of 3 hours, capped: as before


def test_a_wait_is_named_by_its_offer_type_and_stage() -> None:
    assert kind_of("AzureDynamics365BusinessCentral", "await_preview") == (
        "AzureDynamics365BusinessCentral.await_preview"
    )
    assert kind_of("", "await_live") == "unknown.await_live"
    # a type the service never sent: still a key the table takes (no '/', '#', '?', '\\')
    odd = kind_of("a/b#c?d\\e" + "x" * 200, "await_live")
    assert odd == "a_b_c_d_e" + "x" * 71 + ".await_live"
