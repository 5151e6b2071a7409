"""A waiting run's checks as queue work: the poller's tick finds what is due and dispatches it;
the `check` function runs it on whichever instance takes the message.

A check inside the tick made every run that the tick had found ready wait for the whole tick
before its next stage started (output bindings are sent when the function returns), and kept
every status poll on the one instance that holds the timer. A check message carries the due
time it was sent for; a copy that arrives after the run's next check moved on is consumed, so
a duplicate costs at most one status read, and the conditional write settles two that race.

A tick sends every check due before the next tick (the timer's schedule status names it),
each to run at its own time: the queue keeps it out of sight for the whole seconds, the check
holds the rest. So a wait ends when its answer is due, not at the first tick after that (a
minute later, at most, on the deployed schedule).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any

from shared.ledger import LedgerConflict, RunStatus, parse_stamp
from shared.messages import Stage
from shared.pipeline.effects import Pipeline
from shared.pipeline.endings import ended
from shared.pipeline.runner import addressed, delivered, note_error, read_message, run_stage
from shared.pipeline.sends import send_check, stage_message
from shared.pipeline.stages import POLLED_STAGES
from shared.queues import CHECKS
from shared.run_index import IndexRow
from shared.runs import Run

log = logging.getLogger(__name__)
# The furthest ahead a tick sends a check: within the dispatch memory's lease (a check on its
# way is not sent again), whatever the timer's schedule.
MAX_AHEAD_SECONDS = 90.0
HOLD_SECONDS = 2.0  # the longest a check waits for its time (the queue keeps whole seconds)


def dispatch(pipeline: Pipeline, row: IndexRow, now: datetime) -> None:
    """Send a waiting run's check to the check queue (once per due time and lease), from its
    index row, out of sight until the last whole second before it is due: the check reads
    the run, and holds the rest."""
    if pipeline.dispatched.take(row.run_id, row.next_check_at, now):
        body = stage_message(row, Stage(row.stage), check_at=row.next_check_at)
        send_check(pipeline.queues, body, row.next_check_at, pipeline.clock())


def due_early(pipeline: Pipeline, schedule_status: Mapping[str, Any] | None = None) -> float:
    """How far ahead a tick sends status checks: up to the timer's next occurrence, as its
    schedule status names it (each check then runs at its own time). Without one, half the
    base poll interval: a check that ends a moment after its tick is due again a moment
    after the next tick, and without that slack every wait would be polled at twice its
    interval. A retry keeps its exact time (a Retry-After)."""
    following = (schedule_status or {}).get("Next")
    if following:
        try:
            at = datetime.fromisoformat(str(following))
        except ValueError:
            log.warning("timer schedule status unreadable: %.40r", following)
        else:
            at = at if at.tzinfo else at.replace(tzinfo=UTC)  # the host's clock is UTC
            ahead = (at - pipeline.clock()).total_seconds()
            return min(max(ahead, 0.0), MAX_AHEAD_SECONDS)
    return pipeline.stage_deps.poll_seconds / 2


def hold_until_due(pipeline: Pipeline, check_at: str | None) -> None:
    """Wait for a check's own time, if it came (a fraction of a second) early; a check that
    came earlier than the queue could have kept it goes at once."""
    if check_at:
        ahead = (parse_stamp(check_at) - pipeline.clock()).total_seconds()
        if 0 < ahead <= HOLD_SECONDS:
            pipeline.sleep(ahead)


def handle_check_message(pipeline: Pipeline, body: str | bytes, attempt: int | None = None) -> None:
    """Run one dispatched check. A failure is logged and the run stays due: the next tick
    sends its check again once the lease is over (as when the check ran inside the tick)."""
    message = read_message(body, CHECKS)
    if message is None:
        return
    stage = message.stage
    with delivered(message, stage, attempt):
        wrong = f"check message for stage {stage}, which is no check"
        run = addressed(pipeline, message, wrong if stage not in POLLED_STAGES else None)
        if run is None:
            return
        if (
            run.status is not RunStatus.WAITING
            or run.stage != stage
            or run.next_check_at != message.check_at
        ):
            log.info(
                "check of %s is stale (the run moved on); consumed",
                stage,
                extra={"action": "stale_check", "requestId": run.run_id, "stage": stage},
            )
            _reindex(pipeline, run)
            return
        hold_until_due(pipeline, message.check_at)
        try:
            if not ended(pipeline, run, pipeline.clock()):
                run_stage(pipeline, run, stage)
        except LedgerConflict:
            pass  # a copy of this check, or the run's own stage, got there first
        except Exception as exc:
            note_error(pipeline, run.run_id, f"{stage}: {type(exc).__name__}: {exc}")
            log.exception("check failed", extra={"action": "check_failed", "requestId": run.run_id})


def _reindex(pipeline: Pipeline, run: Run) -> None:
    """The tick sends checks from the index: a row that says otherwise than the run (a write
    that died between the two) would send this stale check again, so it is mended."""
    pipeline.ledger.index.repair(run, partial(pipeline.ledger.get, run.run_id))


def check_due(run: Run, now: datetime, early: float) -> bool:
    """A swept run is acted on: a status check up to `early` seconds before its time,
    anything else (a retry's delay, a gate's time) not before it."""
    if not run.next_check_at:
        return False
    slack = early if Stage(run.stage) in POLLED_STAGES else 0.0
    return (parse_stamp(run.next_check_at) - now).total_seconds() <= slack
