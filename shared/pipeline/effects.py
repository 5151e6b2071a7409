"""The one place outcomes become effects: a conditional ledger write, then the hand-off.

The ledger write comes first and is conditional on the ETag the stage started from, so of two
deliveries of one message only one moves the run. A crash between the write and the send
leaves the run in its new stage with no message; a redelivery of the old message re-sends it
(see runner.handle_stage_message).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from azure.core.exceptions import ServiceResponseError

from shared.crashpoints import crash_point
from shared.incidents import Incidents
from shared.ledger import Ledger, Run, RunStatus, StageRecord, now_utc, stamp
from shared.messages import EventKind, Stage
from shared.notify_delivery import Notifier
from shared.partnercenter.budget import TenantBudget
from shared.pauses import Pauses
from shared.pipeline import trouble
from shared.pipeline.dispatched import Dispatched
from shared.pipeline.events import emit
from shared.pipeline.learned_waits import learn
from shared.pipeline.nudges import nudge_mates
from shared.pipeline.outcomes import (
    Advance,
    Checkpoint,
    Failed,
    Finished,
    Outcome,
    Patch,
    Retry,
    Wait,
)
from shared.pipeline.release_moves import release_moved
from shared.pipeline.sends import send_set_check, sends_itself, stage_message
from shared.pipeline.stages import POLLED_STAGES, StageDeps
from shared.pipeline.turns import turn_given_back
from shared.queues import STAGE_QUEUES, QueueSender
from shared.releases import Releases
from shared.runs import closed_timeline, counted_timeline
from shared.wait_history import WaitHistory

log = logging.getLogger(__name__)
# The claim (its stamp) the current delivery holds on its run's stage, as last written.
CLAIM: ContextVar[str | None] = ContextVar("pc_claim", default=None)


@dataclass(frozen=True, kw_only=True)
class Pipeline:
    """Everything a stage invocation needs, built once per process by shared.wiring."""

    ledger: Ledger
    queues: QueueSender
    stage_deps: StageDeps
    retry_delay_seconds: float = 30.0
    stall_seconds: float = 900.0  # a running run unchanged this long has lost its message
    trouble_seconds: float = 3600.0  # trouble retried this long is announced (pipeline.trouble)
    deadline_seconds: float = 14 * 24 * 3600.0  # certification can take days, not weeks
    # How long a delivery's claim on a stage holds off other deliveries: longer than any
    # stage takes, shorter than the host's 10-minute message lease.
    claim_seconds: float = 300.0
    clock: Callable[[], datetime] = now_utc
    package_url_hosts: tuple[str, ...] = ("blob.core.windows.net",)
    incidents: Incidents | None = None  # the tenant's circuit breaker (shared.incidents)
    pauses: Pauses | None = None  # operators' pauses (shared.pauses)
    releases: Releases | None = None  # release rows, for their events (shared.releases)
    notifier: Notifier | None = None  # forwards events to sinks (shared.notify_delivery)
    # Reads the live secrets once, so redaction knows them (a failure here is not intake's).
    secret_probe: Callable[[], object] | None = None
    # The tenant's call budget: the poller holds status checks back while stages press on it.
    budget: TenantBudget | None = None
    # The status checks this instance's timer dispatched lately (shared.pipeline.checks).
    dispatched: Dispatched = field(default_factory=Dispatched)
    # How long Partner Center's waits took lately (shared.wait_history): polls go where
    # answers come. The same history backs `stage_deps.expected_wait`.
    waits: WaitHistory | None = None
    sleep: Callable[[float], None] = time.sleep  # a check holds for its time (tests: none)

    def know_secrets(self) -> None:
        if self.secret_probe is not None:
            try:
                self.secret_probe()
            except Exception:
                log.warning("could not read the secret to recognise it in requests")


def send_stage(pipeline: Pipeline, run: Run, stage: Stage, delay: float = 0) -> None:
    """Hand the run to `stage`."""
    pipeline.queues.send(STAGE_QUEUES[stage], stage_message(run, stage), delay_seconds=delay)


def _patched(run: Run, patch: Patch) -> Run:
    changes = {k: v for k, v in vars(patch).items() if v is not None}
    return run.evolve(**changes)


def record_checkpoint(pipeline: Pipeline, run: Run, checkpoint: Checkpoint) -> Run:
    """Write what the stage is about to do, before it does it (conditional, like every
    write); the returned run knows which intent this invocation recorded."""
    # The record renews the delivery's claim: the call it announces comes next, well within it.
    claim = {"claimed_at": stamp(pipeline.clock())} if run.claimed_stage else {}
    recorded = pipeline.ledger.replace(_patched(run, checkpoint.patch).evolve(**claim))
    if claim:
        CLAIM.set(claim["claimed_at"])
    crash_point("after_checkpoint")
    return recorded.evolve(fresh=(*run.fresh, *checkpoint.fresh), memo=checkpoint.memo)


def apply_outcome(pipeline: Pipeline, run: Run, stage: Stage, outcome: Outcome, calls: int) -> Run:
    """Record the outcome of `stage` for `run` and hand the run on. Raises LedgerConflict."""
    now = pipeline.clock()
    updated = _apply(pipeline, run, stage, outcome, calls, now)
    learn(pipeline.waits, run, stage, outcome, now)
    nudge_mates(pipeline.ledger, run, stage, outcome, now, pipeline.stage_deps.poll_seconds)
    return updated


def _apply(
    pipeline: Pipeline, run: Run, stage: Stage, outcome: Outcome, calls: int, now: datetime
) -> Run:
    at = stamp(now)
    ledger: Ledger = pipeline.ledger
    if isinstance(outcome, Retry):
        log.warning(
            "stage %s will be retried: %s",
            stage,
            outcome.reason,
            extra={"action": "stage_retry", "requestId": run.run_id, "stage": stage},
        )
        marks, said = trouble.noted(run, now, pipeline.trouble_seconds, outcome.trouble)
        # This delivery is done with the stage: release its claim for the retry.
        updated = run.evolve(
            timeline=counted_timeline(run, stage, calls),
            reason=outcome.reason,
            claimed_stage=None,
            **marks,
        )
        if stage in POLLED_STAGES:  # its check comes then; another stage gets its message
            later = timedelta(seconds=outcome.delay_seconds)
            updated = updated.evolve(next_check_at=stamp(now + later))
        updated = ledger.replace(updated)
        if stage not in POLLED_STAGES:
            send_stage(pipeline, run, stage, outcome.delay_seconds)
        if said:
            trouble.announce(pipeline, updated, stage, outcome.reason)
        return updated
    run = trouble.over(run)  # any other outcome ends a stretch of trouble
    if outcome.patch.product_id and run.offer_external_id and not run.product_id:
        _remember(pipeline.ledger.remember_product, run.offer_external_id, outcome.patch.product_id)
    if outcome.patch.submission_id and run.product_id:
        _remember(
            pipeline.ledger.remember_submission,
            run.product_id,
            outcome.patch.submission_id,
            run.run_id,
        )
    run = _patched(run, outcome.patch)
    if isinstance(outcome, Wait):
        checked = None  # a new wait: no check has found it going yet
        if outcome.check == stage:
            timeline = counted_timeline(run, stage, calls)
            # Seen still going when this check was due, if it asked Partner Center.
            checked = run.next_check_at if calls else run.checked_at
        else:
            timeline = closed_timeline(run, stage, at, calls, "ok")
            timeline.append(StageRecord(stage=outcome.check, started=at))
        due = stamp(now + timedelta(seconds=outcome.delay_seconds))
        sent = outcome.aimed and sends_itself(
            outcome.delay_seconds, pipeline.stage_deps.poll_seconds, pipeline.budget
        )
        run = ledger.replace(
            run.evolve(
                status=RunStatus.WAITING,
                stage=outcome.check,
                timeline=timeline,
                reason=outcome.reason or None,
                next_check_at=due,
                checked_at=checked,
                check_sent=due if sent else None,
            )
        )
        if sent:
            send_set_check(pipeline.queues, run, pipeline.clock())
        if outcome.check != stage:
            emit(pipeline, EventKind.STAGE_CHANGED, run)
            release_moved(pipeline, run)
        if outcome.event is not None:
            emit(pipeline, outcome.event, run, outcome.reason)
        return run
    if isinstance(outcome, Advance):
        timeline = closed_timeline(run, stage, at, calls, "ok")
        timeline.append(StageRecord(stage=outcome.to, started=at))
        run = ledger.replace(
            run.evolve(
                status=RunStatus.RUNNING,
                stage=outcome.to,
                timeline=timeline,
                next_check_at=None,
                reason=None,
            )
        )
        crash_point("after_ledger_write")
        send_stage(pipeline, run, outcome.to)
        crash_point("after_enqueue")
        emit(pipeline, EventKind.STAGE_CHANGED, run)
        release_moved(pipeline, run)
        return run
    if isinstance(outcome, Finished):
        done = (
            RunStatus.UNCHANGED
            if outcome.unchanged
            else RunStatus.PLANNED
            if outcome.planned
            else RunStatus.SUCCEEDED
        )
        timeline = closed_timeline(run, stage, at, calls, "ok")
        if outcome.at is not None:
            timeline.append(StageRecord(stage=outcome.at, started=at, ended=at, result="ok"))
        run = ledger.replace(
            run.evolve(
                status=done,
                stage=outcome.at or run.stage,
                next_check_at=None,
                timeline=timeline,
                reason=outcome.reason or None,
            )
        )
        log.info("run %s", done, extra={"action": f"run_{done}", "requestId": run.run_id})
        _release(pipeline, run)
        kind = EventKind(str(done))  # succeeded, unchanged or planned
        emit(pipeline, kind, run, outcome.reason or None)
        release_moved(pipeline, run)
        return run
    assert isinstance(outcome, Failed), outcome
    status = (
        RunStatus.REJECTED
        if outcome.rejected
        else RunStatus.CANCELLED
        if outcome.cancelled
        else RunStatus.FAILED
    )
    run = ledger.replace(
        run.evolve(
            status=status,
            next_check_at=None,
            reason=outcome.reason,
            timeline=closed_timeline(run, stage, at, calls, str(status)),
        )
    )
    log.warning(
        "run %s: %s",
        status,
        outcome.reason,
        extra={"action": f"run_{status}", "requestId": run.run_id, "stage": stage},
    )
    _release(pipeline, run)
    kind = {
        RunStatus.REJECTED: EventKind.REJECTED,
        RunStatus.CANCELLED: EventKind.CANCELLED,
    }.get(status, EventKind.FAILED)
    emit(pipeline, kind, run, outcome.reason)
    release_moved(pipeline, run)
    return run


def _remember(write: Callable[..., None], *facts: str) -> None:
    """Remember a fact for later runs of the offer (its product, our submissions). The write
    is an upsert of the same facts, so one whose answer was lost (a connection reset as
    storage came back: the SDK repeats no PATCH) is sent once more. A failure costs a later
    run a lookup, or leaves a submission of ours looking foreign to it: never this run."""
    try:
        try:
            write(*facts)
        except ServiceResponseError:
            write(*facts)
    except Exception:
        log.warning(
            "could not remember %s", facts, exc_info=True, extra={"action": "remember_failed"}
        )


def _release(pipeline: Pipeline, run: Run) -> None:
    """Give the offer's turn back and wake who waits for it (a failure only delays them)."""
    if run.product_id:
        try:
            if pipeline.ledger.locks.release(run.product_id, run.run_id):
                turn_given_back(pipeline, run.product_id)
        except Exception:
            log.exception(
                "could not release the offer lock",
                extra={"action": "lock_release_failed", "requestId": run.run_id},
            )
