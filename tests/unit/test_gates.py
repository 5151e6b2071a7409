"""The go-live gate as data: approval (waiting with reminders, rejected, expired), a
scheduled go-live, and the time held there not counted against the deadline."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from shared.ledger import Run, RunStatus, StageRecord, stamp
from shared.messages import EventKind, Stage
from shared.pipeline.gates import await_go_live, await_release, gated, waits_on_mates
from shared.pipeline.outcomes import Advance, Failed, Wait
from shared.pipeline.stages import StageDeps

ARRIVED = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def at_gate(**fields: object) -> Run:
    return Run(
        run_id="r-1",
        status=RunStatus.WAITING,
        stage=Stage.AWAIT_GO_LIVE,
        target="live",
        submission_id="1152921505695125001",
        timeline=[StageRecord(stage=Stage.AWAIT_GO_LIVE, started=stamp(ARRIVED))],
        **fields,  # type: ignore[arg-type]
    )


def later(deps: StageDeps, hours: float) -> StageDeps:
    return replace(
        deps,
        now=lambda: ARRIVED + timedelta(hours=hours),
        approval_timeout_seconds=48 * 3600,
        approval_remind_seconds=3600,
    )


def test_only_runs_that_need_it_stop_at_the_gate() -> None:
    assert not gated(at_gate())
    assert gated(at_gate(go_live="approval"))
    assert gated(at_gate(not_before="2026-12-01T09:00Z"))
    assert gated(at_gate(depends_on=["base"]))


def test_waiting_for_approval_reminds_and_expires(deps: StageDeps) -> None:
    waiting = await_go_live(at_gate(go_live="approval"), later(deps, 2))
    assert isinstance(waiting, Wait) and waiting.check is Stage.AWAIT_GO_LIVE
    assert waiting.event is EventKind.APPROVAL_WAITING
    assert waiting.delay_seconds == 3600 and "pcpub approve r-1" in waiting.reason
    expired = await_go_live(at_gate(go_live="approval"), later(deps, 49))
    assert isinstance(expired, Failed) and "no approval within 48 h" in expired.reason
    assert "stays in preview" in expired.reason


def test_a_rejected_go_live_fails_with_who_and_why(deps: StageDeps) -> None:
    decision = {"state": "rejected", "by": "qa", "at": "2026-11-25T10:00:00Z", "reason": "typo"}
    outcome = await_go_live(at_gate(go_live="approval", approval=decision), later(deps, 1))
    assert isinstance(outcome, Failed) and "rejected by qa" in outcome.reason
    assert "typo" in outcome.reason


def test_approved_goes_on_with_the_wait_counted_as_held(deps: StageDeps) -> None:
    decision = {"state": "approved", "by": "qa", "at": "2026-11-25T12:00:00Z"}
    outcome = await_go_live(at_gate(go_live="approval", approval=decision), later(deps, 3))
    assert isinstance(outcome, Advance) and outcome.to is Stage.PROMOTE
    assert outcome.patch.held_seconds == 3 * 3600


def test_a_scheduled_go_live_waits_until_its_time(deps: StageDeps) -> None:
    run = at_gate(not_before="2026-11-25T12:30Z")
    early = await_go_live(run, later(deps, 3))  # 12:00
    assert isinstance(early, Wait) and "goes live at 2026-11-25T12:30Z" in early.reason
    assert early.delay_seconds == 1800
    assert isinstance(await_go_live(run, later(deps, 4)), Advance)


def test_a_run_of_no_release_passes_the_release_gate(deps: StageDeps) -> None:
    run = replace(at_gate(), stage=Stage.AWAIT_RELEASE)
    assert isinstance(await_release(run, deps), Advance)


def test_status_polls_stretch_with_the_wait(deps: StageDeps) -> None:
    waiting = replace(at_gate(), stage=Stage.AWAIT_PREVIEW)
    waiting.timeline[-1] = StageRecord(stage=Stage.AWAIT_PREVIEW, started=stamp(ARRIVED))
    polls = replace(deps, poll_seconds=60, max_poll_seconds=900)
    assert replace(polls, now=lambda: ARRIVED + timedelta(minutes=5)).next_poll(waiting)[0] == 60
    assert replace(polls, now=lambda: ARRIVED + timedelta(hours=1)).next_poll(waiting)[0] == 360
    assert replace(polls, now=lambda: ARRIVED + timedelta(days=2)).next_poll(waiting)[0] == 900


def test_a_check_that_ran_late_keeps_its_interval(deps: StageDeps) -> None:
    """The next check is due one interval after this one was due (the tick, the queue and the
    call took time), never sooner than half an interval from now."""
    due = ARRIVED + timedelta(minutes=5)
    waiting = replace(at_gate(), stage=Stage.AWAIT_PREVIEW, next_check_at=stamp(due))
    waiting.timeline[-1] = StageRecord(stage=Stage.AWAIT_PREVIEW, started=stamp(ARRIVED))
    polls = replace(deps, poll_seconds=60, max_poll_seconds=900)
    assert replace(polls, now=lambda: due).next_poll(waiting)[0] == 60
    assert replace(polls, now=lambda: due + timedelta(seconds=20)).next_poll(waiting)[0] == 40
    assert replace(polls, now=lambda: due + timedelta(minutes=5)).next_poll(waiting)[0] == 30


def test_only_gates_that_wait_on_their_mates_are_woken_by_them() -> None:
    """A mate's move wakes a run at a gate only where it can let the run on: not one still
    waiting for its approval or its time (a check of those would only remind early)."""
    now = ARRIVED + timedelta(hours=1)
    assert waits_on_mates(replace(at_gate(), stage=Stage.AWAIT_RELEASE), now)
    assert waits_on_mates(at_gate(depends_on=["base"]), now)
    assert not waits_on_mates(at_gate(go_live="approval"), now)
    approved = {"state": "approved", "by": "qa", "at": "2026-11-25T09:30:00Z"}
    assert waits_on_mates(at_gate(go_live="approval", approval=approved), now)
    assert not waits_on_mates(at_gate(not_before="2026-11-25T12:30Z"), now)
    assert waits_on_mates(at_gate(not_before="2026-11-25T09:30Z"), now)
    assert not waits_on_mates(replace(at_gate(), stage=Stage.AWAIT_PREVIEW), now)
