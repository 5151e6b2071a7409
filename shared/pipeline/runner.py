"""Running a stage for a run: the guard that makes redelivery harmless, and the poller's loop.

A stage message is acted on only when the ledger says the run is at that stage; anything else
is a duplicate and is consumed. Transient trouble (throttling, outages, a vault hiccup) becomes a
delayed retry of the same stage rather than an exception, so it never burns the host's dequeue
attempts; only real bugs reach the poison queue.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from pydantic import ValidationError

from shared.credentials import CredentialError
from shared.ledger import LedgerConflict, Run, RunStatus
from shared.messages import Stage, StageMessage
from shared.partnercenter.client import correlation
from shared.partnercenter.errors import PartnerCenterError
from shared.pipeline.effects import Pipeline, apply_outcome, send_stage
from shared.pipeline.outcomes import Failed, Outcome, Retry
from shared.pipeline.stages import ORDER, POLLED_STAGES, STAGES

log = logging.getLogger(__name__)


def run_stage(pipeline: Pipeline, run: Run, stage: Stage) -> Run:
    """Execute `stage` for `run` and apply its outcome (raises LedgerConflict on a race)."""
    with correlation(run.run_id) as calls:
        try:
            outcome: Outcome = STAGES[stage](run, pipeline.stage_deps)
        except PartnerCenterError as exc:
            if not exc.transient:
                outcome = Failed(reason=f"{stage}: {exc}")
            else:
                delay = max(exc.retry_after or 0, pipeline.retry_delay_seconds)
                outcome = Retry(delay_seconds=delay, reason=f"{stage}: {exc}")
        except CredentialError as exc:
            outcome = Retry(delay_seconds=pipeline.retry_delay_seconds, reason=str(exc))
    return apply_outcome(pipeline, run, stage, outcome, calls[0])


def handle_stage_message(pipeline: Pipeline, stage: Stage, body: str) -> None:
    """Act on one delivery of a stage message; consumes duplicates and foreign messages."""
    try:
        message = StageMessage.model_validate_json(body)
    except ValidationError as exc:
        log.error(
            "unreadable stage message consumed: %s",
            exc.errors()[0]["msg"],
            extra={"action": "invalid_stage_message", "stage": stage},
        )
        return
    if message.stage != stage:
        log.error(
            "message for stage %s arrived at %s; consumed",
            message.stage,
            stage,
            extra={"action": "misrouted_message", "run_id": message.run_id},
        )
        return
    run = pipeline.ledger.get(message.run_id)
    if run is None:
        log.error(
            "message for unknown run consumed",
            extra={"action": "unknown_run", "run_id": message.run_id, "stage": stage},
        )
        return
    if run.status.terminal or run.stage != stage:
        _resend_if_lost(pipeline, run, stage)
        return
    if stage in POLLED_STAGES:
        return
    try:
        run_stage(pipeline, run, stage)
    except LedgerConflict:
        log.info(
            "run moved on concurrently; duplicate delivery consumed",
            extra={"action": "duplicate_delivery", "run_id": run.run_id, "stage": stage},
        )


def _resend_if_lost(pipeline: Pipeline, run: Run, stage: Stage) -> None:
    """A redelivered message for the stage just before the run's current one means the host
    may have died between the ledger write and the hand-off: send the hand-off again (the
    next stage's guard makes an extra copy harmless)."""
    if run.status is not RunStatus.RUNNING or run.stage in POLLED_STAGES:
        return
    current = Stage(run.stage)
    if ORDER.index(current) > ORDER.index(stage):
        log.info(
            "re-sending the hand-off to %s",
            current,
            extra={"action": "handoff_resent", "run_id": run.run_id, "stage": current},
        )
        send_stage(pipeline, run.run_id, current)


def poll_due(
    pipeline: Pipeline, now: datetime | None = None, *, limit: int = 200, concurrency: int = 4
) -> int:
    """Run the checks of every waiting run that is due; return how many were checked."""
    due = pipeline.ledger.due(now or pipeline.clock(), limit=limit)

    def check(run: Run) -> None:
        try:
            run_stage(pipeline, run, Stage(run.stage))
        except LedgerConflict:
            pass  # another poller got there first
        except Exception:
            log.exception("check failed", extra={"action": "check_failed", "run_id": run.run_id})

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(check, due))
    return len(due)
