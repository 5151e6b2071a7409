"""A wait seen over is news for the runs waiting alongside (shared.pipeline.nudges), on
Azurite through the one place outcomes become effects: the runs of the same offer type that
waited in the same stage since no later are checked at the poller's next tick instead of at
their own stretched interval; no other run is touched, and a short wait moves nothing."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta

import pytest

from shared.ledger import Ledger, Run, RunStatus, StageRecord, now_utc, parse_stamp, stamp
from shared.ledger_sweep import sweep
from shared.messages import Stage
from shared.pipeline.effects import Pipeline, apply_outcome
from shared.pipeline.outcomes import Advance, Finished
from shared.settings import Settings
from shared.storage import table_service


@pytest.fixture
def own(pipeline: Pipeline, settings: Settings) -> Pipeline:
    """The pipeline over a ledger table (and index) of its own: no other test's runs."""
    ledger = Ledger(table_service(settings), table=f"pcnudge{uuid.uuid4().hex[:8]}")
    return dataclasses.replace(pipeline, ledger=ledger, waits=None)


def waiting(
    ledger: Ledger,
    name: str,
    began: timedelta,
    next_check: timedelta,
    *,
    stage: Stage = Stage.AWAIT_PREVIEW,
    offer_type: str = "DynamicsBC",
) -> Run:
    """A run that has waited `began` in `stage`, its next check `next_check` from now."""
    now = now_utc()
    run = Run(
        run_id=f"run-{name}-{uuid.uuid4().hex[:6]}",
        status=RunStatus.WAITING,
        stage=stage,
        offer=f"offer:{name}",
        offer_type=offer_type,
        product_id=f"p-{name}",
        submission_id="1152921505695125001",
        created_at=stamp(now - began),
        timeline=[StageRecord(stage=stage, started=stamp(now - began))],
        next_check_at=stamp(now + next_check),
    )
    assert ledger.create(run)
    stored = ledger.get(run.run_id)
    assert stored is not None
    return stored


def next_check(ledger: Ledger, run: Run) -> datetime:
    stored = ledger.get(run.run_id)
    assert stored is not None and stored.next_check_at
    return parse_stamp(stored.next_check_at)


def test_a_long_wait_seen_over_moves_up_the_checks_of_those_waiting_alongside_since_no_later(
    own: Pipeline,
) -> None:
    hours, minute = timedelta(hours=1), timedelta(minutes=1)
    half_a_poll = timedelta(seconds=own.stage_deps.poll_seconds / 2)
    ledger = own.ledger
    finder = waiting(ledger, "finder", 3 * hours, timedelta(0))
    earlier = waiting(ledger, "earlier", 3 * hours + 10 * minute, 12 * minute)
    together = waiting(ledger, "together", 3 * hours - half_a_poll, 14 * minute)
    untouched = {
        "later": waiting(ledger, "later", hours, 5 * minute),  # submitted after the finder
        "other type": waiting(ledger, "apps", 4 * hours, 9 * minute, offer_type="AzureApplication"),
        "due anyway": waiting(ledger, "due", 4 * hours, half_a_poll),
        "other wait": waiting(ledger, "live", 4 * hours, 9 * minute, stage=Stage.AWAIT_LIVE),
    }
    before = {name: next_check(ledger, run) for name, run in untouched.items()}

    apply_outcome(own, finder, Stage.AWAIT_PREVIEW, Advance(to=Stage.PROMOTE), 1)

    now = now_utc()
    for mate in (earlier, together):
        assert abs((next_check(ledger, mate) - now).total_seconds()) < 30
        stored = ledger.get(mate.run_id)
        assert stored is not None
        assert stored.status is RunStatus.WAITING and stored.stage == Stage.AWAIT_PREVIEW
        assert not stored.check_sent  # the tick sends it, no more than the budget has room for
    assert {name: next_check(ledger, run) for name, run in untouched.items()} == before
    # The poller's next sweep finds them due (with the one that was due anyway).
    due = {run.run_id for run in sweep(ledger, now, now - hours).due}
    assert {earlier.run_id, together.run_id} <= due
    assert untouched["later"].run_id not in due


def test_a_short_wait_or_an_end_of_another_kind_moves_nothing(own: Pipeline) -> None:
    """Waits shorter than ten base intervals are polled at the base interval: nothing to
    gain. The last wait (live) ending moves only runs waiting for live."""
    ledger = own.ledger
    base = own.stage_deps.poll_seconds
    short = waiting(ledger, "short", timedelta(seconds=4 * base), timedelta(0))
    mate = waiting(ledger, "mate", timedelta(hours=1), timedelta(minutes=10))
    before = next_check(ledger, mate)
    apply_outcome(own, short, Stage.AWAIT_PREVIEW, Advance(to=Stage.PROMOTE), 1)
    assert next_check(ledger, mate) == before

    live = waiting(ledger, "live", timedelta(hours=2), timedelta(0), stage=Stage.AWAIT_LIVE)
    apply_outcome(own, live, Stage.AWAIT_LIVE, Finished(), 1)
    assert next_check(ledger, mate) == before
