"""Polls that go where answers come: the usual span of a kind of wait, and the schedule it
shapes (pure: no storage)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shared.ledger import Run, RunStatus, StageRecord, stamp
from shared.messages import Stage
from shared.pipeline.stages import StageDeps
from shared.wait_history import Learned, aims, kind_of, learned_delay, toward_aim, usual

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

    def expected(kind: str) -> Learned | None:
        asked.append(kind)
        return Learned((2 * HOUR, 5 * HOUR), ()) if kind == "AzureApplication.await_live" else None

    polls = replace(deps, poll_seconds=60, max_poll_seconds=900, expected_wait=expected)
    promoting = replace(waiting(Stage.PROMOTE, STARTED), status=RunStatus.RUNNING)
    now = replace(polls, now=lambda: STARTED)
    assert now.next_poll(promoting, Stage.AWAIT_LIVE)[0] == 900  # entering the live wait
    assert now.next_poll(promoting, Stage.AWAIT_PREVIEW)[0] == 60  # nothing known of this kind
    assert asked == ["AzureApplication.await_live", "AzureApplication.await_preview"]
    live = waiting(Stage.AWAIT_LIVE, STARTED)
    at = replace(polls, now=lambda: STARTED + timedelta(hours=1.4))
    assert at.next_poll(live)[0] == pytest.approx(0.8 * 2 * HOUR - 1.4 * HOUR)  # 12 minutes
    near = replace(polls, now=lambda: STARTED + timedelta(hours=1.5))
    assert near.next_poll(live)[0] == 540  # the plain poll comes after 80% of it: plain
    after = replace(polls, now=lambda: STARTED + timedelta(hours=3))
    assert after.next_poll(live)[0] == 900  # a tenth of 3 hours, capped: as before


def test_checks_aim_at_the_middle_and_the_end_of_where_answers_were_found() -> None:
    """Each wait's end lies between its last check that found it going and the one that found
    it over: a new wait aims at the middle and at the end of those intervals, so a run
    finding its answer at the middle leaves the next one half the interval to aim into."""
    assert aims([(5.0, 6.0)] * 4) == ()  # four waits say nothing yet
    assert aims([(5.0, 6.0)] * 16) == (5.5, 6.0)
    assert aims([(5.0, 5.5)] * 8 + [(5.5, 6.0)] * 8) == (5.25, 5.5, 5.75, 6.0)
    # rows written before `since` was kept: their end stands for their middle
    assert aims([(None, 6.0)] * 5) == (6.0,)
    hours = [(h * HOUR, (h + 1) * HOUR) for h in range(2, 12)]  # spread over a working day
    assert aims(hours) == (2.5 * HOUR, 6.5 * HOUR, 7 * HOUR, 10.5 * HOUR, 11 * HOUR)


@pytest.mark.parametrize(
    ("waited", "delay", "expected"),
    [
        (0.0, 4.8, 4.8),  # the plain (or skipping) schedule comes first
        (4.9, 1.0, 0.6),  # an aim comes before the plain check: the check moves up to it
        (5.45, 1.0, 0.55),  # the aim at hand is closer than a quarter interval: the next one
        (6.1, 1.0, 1.0),  # past every aim: the plain schedule
    ],
)
def test_a_check_moves_up_to_the_next_aim_never_closer_than_the_gap(
    waited: float, delay: float, expected: float
) -> None:
    assert toward_aim(waited, delay, (5.5, 6.0), gap=0.25) == pytest.approx(expected)


def test_a_run_with_a_history_of_its_kind_checks_at_its_aims(deps: StageDeps) -> None:
    known = Learned((6.0, 6.0), (5.5, 6.0))
    polls = replace(deps, poll_seconds=1, max_poll_seconds=900, expected_wait=lambda k: known)
    waiting_run = waiting(Stage.AWAIT_PREVIEW, STARTED)
    at = replace(polls, now=lambda: STARTED + timedelta(seconds=4.9))
    delay, aimed = at.next_poll(waiting_run)
    assert delay == pytest.approx(0.6) and aimed  # to 5.5 s, not the plain 5.9
    past = replace(polls, now=lambda: STARTED + timedelta(seconds=6.5))
    delay, aimed = past.next_poll(waiting_run)
    assert delay == pytest.approx(1.0) and not aimed  # the plain schedule


def test_a_wait_is_named_by_its_offer_type_and_stage() -> None:
    assert kind_of("AzureDynamics365BusinessCentral", "await_preview") == (
        "AzureDynamics365BusinessCentral.await_preview"
    )
    assert kind_of("", "await_live") == "unknown.await_live"
    # a type the service never sent: still a key the table takes (no '/', '#', '?', '\\')
    odd = kind_of("a/b#c?d\\e" + "x" * 200, "await_live")
    assert odd == "a_b_c_d_e" + "x" * 71 + ".await_live"
