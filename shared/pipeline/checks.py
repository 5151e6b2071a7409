"""A waiting run's checks as queue work: the poller's tick finds what is due and dispatches it;
the `check` function runs it on whichever instance takes the message.

A check inside the tick made every run that the tick had found ready wait for the whole tick
before its next stage started (output bindings are sent when the function returns), and kept
every status poll on the one instance that holds the timer. A check message carries the due
time it was sent for; a copy that arrives after the run's next check moved on is consumed, so
a duplicate costs at most one status read, and the conditional write settles two that race.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial

from shared.ledger import LedgerConflict, RunStatus, parse_stamp
from shared.messages import Stage
from shared.pipeline.effects import Pipeline, stage_message
from shared.pipeline.endings import ended
from shared.pipeline.runner import addressed, delivered, note_error, read_message, run_stage
from shared.pipeline.stages import POLLED_STAGES
from shared.queues import CHECKS
from shared.run_index import IndexRow
from shared.runs import Run

log = logging.getLogger(__name__)


def dispatch(pipeline: Pipeline, row: IndexRow, now: datetime) -> None:
    """Send a waiting run's due check to the check queue (once per due time and lease), from
    its index row: the check reads the run."""
    if pipeline.dispatched.take(row.run_id, row.next_check_at, now):
        body = stage_message(row, Stage(row.stage), check_at=row.next_check_at)
        pipeline.queues.send(CHECKS, body)


def due_early(pipeline: Pipeline) -> float:
    """How early a status check may run: half the base poll interval. A check that ends a
    moment after its tick is due again a moment after the next tick; without this slack every
    wait would be polled at twice its interval. A retry keeps its exact time (a Retry-After)."""
    return pipeline.stage_deps.poll_seconds / 2


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
