"""The poller's tick: what is due, stalled or lost, read through the index of runs still
going. A due status check is dispatched to the check queue (shared.pipeline.checks), a run
whose retry delay is over goes back on its stage's queue, a stalled run is re-driven, a run
past its deadline fails, and a run whose row is lost is reported."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from datetime import datetime, timedelta
from typing import Any

from shared.ledger import LedgerConflict, Run, RunStatus, stamp
from shared.ledger_sweep import sweep as read_sweep
from shared.messages import Stage
from shared.observability import metrics
from shared.partnercenter.call_priority import Priority
from shared.pipeline.checks import check_due, dispatch, due_early
from shared.pipeline.effects import Pipeline, send_stage
from shared.pipeline.endings import ended
from shared.pipeline.lost import report_lost
from shared.pipeline.runner import call_priority
from shared.pipeline.sends import on_its_way
from shared.pipeline.stages import POLLED_STAGES
from shared.run_index import IndexRow

log = logging.getLogger(__name__)


def poll_due(
    pipeline: Pipeline,
    now: datetime | None = None,
    *,
    limit: int = 200,
    concurrency: int = 4,
    schedule_status: Mapping[str, Any] | None = None,
) -> int:
    """One tick (`schedule_status`: the timer's, naming its next occurrence). Returns how
    many runs it acted on."""
    now = now or pipeline.clock()
    early = due_early(pipeline, schedule_status)
    # Status polls spend the budget last: no more checks are dispatched than it has room for,
    # and while stages press on it, nothing due is even read this tick (a retry whose wait is
    # over goes with the next tick that reads).
    room = limit if pipeline.budget is None else pipeline.budget.room_for(Priority.POLL)

    def pick(rows: list[IndexRow]) -> list[IndexRow]:
        """Only the due runs this tick can act on: every wait that is over, and as many status
        checks as the budget has room for, in the order they are dispatched: those that lead
        on (a preview found ready is promoted) before those that can only find a run done,
        each kind oldest first (a tick that read hundreds of waiting runs to dispatch a few
        loaded the storage the checks themselves need, and lasted seconds under load)."""
        over = stamp(now)
        waits = [r for r in rows if r.stage not in POLLED_STAGES and r.next_check_at <= over]
        lease = pipeline.dispatched.lease_seconds
        checks = sorted(
            (r for r in rows if r.stage in POLLED_STAGES and not on_its_way(r, now, lease)),
            key=lambda r: (call_priority(Stage(r.stage)), r.next_check_at),
        )
        return waits + checks[:room]

    sweep = read_sweep(
        pipeline.ledger,
        now,
        now - timedelta(seconds=pipeline.stall_seconds),
        limit,
        early=early,
        with_due=room > 0,
        pick=pick,
        # A status check is sent from its index row: the check reads and validates its run
        # itself when it runs (a stale row costs one consumed message), so a tick reads no
        # run it only hands on.
        unread=lambda row: row.stage in POLLED_STAGES,
    )
    waits = [run for run in sweep.due if check_due(run, now, early)]
    checks = sweep.unread  # as `pick` chose and ordered them
    stalled = sweep.stalled
    for lost in sweep.lost:  # a run parked in a wait has no message to report it by
        try:
            report_lost(pipeline, lost)
        except Exception:
            log.exception("could not report a lost run", extra={"requestId": lost.run_id})

    def send_check(row: IndexRow) -> None:
        try:
            dispatch(pipeline, row, now)
        except Exception:
            log.exception("check failed", extra={"action": "check_failed", "requestId": row.run_id})

    def wait_over(run: Run) -> None:
        try:
            if not ended(pipeline, run, now):
                redrive(pipeline, run, "its wait is over")
        except LedgerConflict:
            pass  # another poller, or a stage, got there first
        except Exception:
            log.exception("check failed", extra={"action": "check_failed", "requestId": run.run_id})

    def unstick(run: Run) -> None:
        try:
            if not ended(pipeline, run, now):
                metrics.STALLED.add(1, {"stage": run.stage})
                log.warning(
                    "run stalled at %s; re-driving it",
                    run.stage,
                    extra={"action": "run_stalled", "requestId": run.run_id, "stage": run.stage},
                )
                redrive(pipeline, run, "stalled")
        except LedgerConflict:
            pass
        except Exception:
            log.exception(
                "re-drive failed", extra={"action": "redrive_failed", "requestId": run.run_id}
            )

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        # Each task in a copy of this context: hand-offs reach the timer's output bindings.
        tasks = [pool.submit(copy_context().run, send_check, row) for row in checks]
        tasks += [pool.submit(copy_context().run, wait_over, run) for run in waits]
        tasks += [pool.submit(copy_context().run, unstick, run) for run in stalled]
        for task in tasks:
            task.result()
    return len(checks) + len(waits) + len(stalled) + len(sweep.lost)


def redrive(pipeline: Pipeline, run: Run, why: str) -> Run:
    """Put a run back on its stage's queue (after a wait, or when its message was lost)."""
    stage = Stage(run.stage)
    if stage in POLLED_STAGES:  # a check: make it due now
        return pipeline.ledger.replace(run.evolve(next_check_at=stamp(pipeline.clock())))
    updated = pipeline.ledger.replace(
        run.evolve(status=RunStatus.RUNNING, next_check_at=None, claimed_stage=None)
    )
    send_stage(pipeline, run, stage)
    log.info(
        "re-drove run at %s (%s)",
        stage,
        why,
        extra={"action": "run_redriven", "requestId": run.run_id, "stage": stage},
    )
    return updated
