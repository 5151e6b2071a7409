"""Running a stage for a run: the guard that makes redelivery harmless, and the poller's loop.

A stage message is acted on only when the ledger says the run is at that stage; anything else
is a duplicate and is consumed. Transient trouble (throttling, outages, a vault hiccup) becomes a
delayed retry of the same stage rather than an exception, so it never burns the host's dequeue
attempts; only real bugs reach the poison queue.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

from azure.core.exceptions import AzureError
from pydantic import ValidationError

from shared.crashpoints import crash_point
from shared.credentials import CredentialError
from shared.ledger import LedgerConflict, Run, RunStatus, parse_stamp, stamp
from shared.messages import Stage, StageMessage
from shared.observability import metrics
from shared.observability.dimensions import dimensions, of_run
from shared.observability.tracing import continued, record_outcome, stage_span
from shared.packages import PackageSourceRefused
from shared.partnercenter.call_context import correlation, fenced
from shared.partnercenter.call_priority import Priority, priority
from shared.partnercenter.errors import ClaimLost, PartnerCenterError
from shared.pipeline import holds
from shared.pipeline.effects import (
    CLAIM,
    Pipeline,
    apply_outcome,
    record_checkpoint,
    send_stage,
)
from shared.pipeline.endings import ended
from shared.pipeline.lost import report_lost
from shared.pipeline.outcomes import Checkpoint, Failed, Outcome, Retry
from shared.pipeline.stages import (
    LEADING_STAGES,
    ORDER,
    POLLED_STAGES,
    STAGES,
    SUBMITTING_STAGES,
)
from shared.pipeline.submission_state import SubmissionCancelled

log = logging.getLogger(__name__)


def run_stage(pipeline: Pipeline, run: Run, stage: Stage) -> Run:
    """Execute `stage` for `run` and apply its outcome (raises LedgerConflict on a race).
    A hold (an open incident) parks the run first; a Checkpoint is recorded at once and the
    stage runs again, knowing what it recorded."""
    with (
        dimensions(**of_run(run), stage=stage),
        stage_span(run.trace, stage, **of_run(run)) as span,
    ):
        gate = holds.before(pipeline, run, stage)
        if gate.held is not None:
            record_outcome(span, "held", gate.held.reason)
            return _applied(pipeline, run, stage, gate.held, 0)
        with correlation(run.run_id) as calls, priority(call_priority(stage)):
            for _ in range(MAX_CHECKPOINTS):
                outcome, error = _decide(pipeline, run, stage)
                if not isinstance(outcome, Checkpoint):
                    break
                run = record_checkpoint(pipeline, run, outcome)
            else:
                raise RuntimeError(f"stage {stage} recorded {MAX_CHECKPOINTS} checkpoints in a row")
        outcome = holds.after(pipeline, run, outcome, error, gate)
        crash_point("after_pc_call")
        crash_point(f"after_pc_call:{stage}")
        name = type(outcome).__name__.lower()
        record_outcome(span, name, getattr(outcome, "reason", None), isinstance(outcome, Failed))
        with dimensions(outcome=name, pcRequestId=getattr(error, "request_id", None)):
            return _applied(pipeline, run, stage, outcome, calls[0])


def call_priority(stage: Stage) -> Priority:
    """How the stage's calls draw on the tenant's budget: those leading up to a submission
    first (the nearer to it, the sooner), status polls last."""
    if stage is Stage.AWAIT_LIVE:
        return Priority.LAST
    if stage in POLLED_STAGES:
        return Priority.POLL
    if stage in SUBMITTING_STAGES:
        return Priority.SUBMIT
    return Priority.START if stage in LEADING_STAGES else Priority.FINISH


def _applied(pipeline: Pipeline, run: Run, stage: Stage, outcome: Outcome, calls: int) -> Run:
    """Apply the outcome, and measure the stage records it closed."""
    updated = apply_outcome(pipeline, run, stage, outcome, calls)
    metrics.stages_closed(run, updated)
    return updated


MAX_CHECKPOINTS = 20
YOUNG = 0.5  # a claim younger than this share of claim_seconds is surely still ours


def _decide(
    pipeline: Pipeline, run: Run, stage: Stage
) -> tuple[Outcome, PartnerCenterError | None]:
    """The stage's outcome; the errors it raises, classified once for every stage."""
    try:
        return STAGES[stage](run, pipeline.stage_deps), None
    except PartnerCenterError as exc:
        if not exc.transient:
            return Failed(reason=f"{stage}: {exc}"), exc
        # What is left of a Retry-After: the stage may have gone on a while after it came.
        left = (exc.retry_after or 0) - (time.monotonic() - exc.at)
        delay = max(left, retry_delay(pipeline, run))
        return Retry(delay_seconds=delay, reason=f"{stage}: {exc}"), exc
    except CredentialError as exc:  # held off for the instance's shared backoff
        delay = max(exc.retry_after or 0, pipeline.retry_delay_seconds)
        return Retry(delay_seconds=delay, reason=str(exc)), None
    except PackageSourceRefused as exc:
        return Failed(reason=str(exc), rejected=True), None
    except AzureError as exc:  # package storage unreachable: not the request's fault
        reason = f"{stage}: storage: {type(exc).__name__}"
        return Retry(delay_seconds=retry_delay(pipeline, run), reason=reason), None
    except SubmissionCancelled as exc:
        return Failed(reason=str(exc), cancelled=True), None
    except LookupError as exc:  # a module or draft the offer does not have
        return Failed(reason=f"{stage}: {exc}"), None


def retry_delay(pipeline: Pipeline, run: Run) -> float:
    """How long before a stage that met transient trouble runs again: the pipeline's retry
    delay at first, then a tenth of the time the trouble has lasted (since its first retry:
    a stage held for hours before is not in trouble for those hours), up to the longest
    status poll interval, as polls thin out. Trouble that lasts (an offer's endpoint failing,
    an answer whose shape will not change) then costs a try every 7.5 minutes (defaults), not
    one every half minute for the two weeks of the run's deadline. Never more than half the
    stall window: a run whose retry is on its way must not look as if it lost its message."""
    base = pipeline.retry_delay_seconds
    if not run.troubled_since:
        return base
    at_it = (pipeline.clock() - parse_stamp(run.troubled_since)).total_seconds()
    longest = min(pipeline.stage_deps.max_poll_seconds, pipeline.stall_seconds / 2)
    return max(base, min(at_it / 10, longest))


def read_message(body: str | bytes, where: str) -> StageMessage | None:
    """The stage message in a delivery's body, or None: a body that is not a stage message
    of ours is logged, with its size, and consumed."""
    try:
        if len(body) > 4096:
            raise ValueError(f"{len(body)} bytes is no stage message")
        return StageMessage.model_validate_json(body)
    except ValueError as exc:
        why = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        log.error(
            "unreadable stage message consumed (%d bytes): %s",
            len(body),
            why[:200],
            extra={"action": "invalid_stage_message", "stage": where},
        )
        return None


@contextlib.contextmanager
def delivered(message: StageMessage, stage: Stage, attempt: int | None) -> Iterator[None]:
    """The delivery's trace and log dimensions (attempt: the host's dequeue count)."""
    with (
        continued(message.traceparent),
        dimensions(requestId=message.run_id, stage=stage, attempt=attempt),
    ):
        yield


def handle_stage_message(
    pipeline: Pipeline, stage: Stage, body: str | bytes, attempt: int | None = None
) -> None:
    """Act on one delivery of a stage message (its `attempt`, the host's dequeue count);
    consumes duplicates and foreign messages."""
    message = read_message(body, stage)
    if message is not None:
        with delivered(message, stage, attempt):
            _handle(pipeline, stage, message)


def addressed(pipeline: Pipeline, message: StageMessage, misrouted: str | None) -> Run | None:
    """The run a delivery names, or None when the delivery is done with: a message where it
    does not belong (`misrouted` says why) is logged and consumed, and a run whose row is
    gone is reported by the message."""
    if misrouted is not None:
        log.error(
            "%s; consumed",
            misrouted,
            extra={"action": "misrouted_message", "requestId": message.run_id},
        )
        return None
    run = pipeline.ledger.get(message.run_id)
    if run is None:
        report_lost(pipeline, message)
    return run


def _handle(pipeline: Pipeline, stage: Stage, message: StageMessage) -> None:
    wrong = f"message for stage {message.stage} arrived at {stage}"
    run = addressed(pipeline, message, wrong if message.stage != stage else None)
    if run is None:
        return
    if run.status.terminal or run.stage != stage:
        _resend_if_lost(pipeline, run, stage)
        return
    if ended(pipeline, run, pipeline.clock()):
        return  # cancelled, or past its deadline, whatever it was doing (retrying included)
    if stage in POLLED_STAGES:
        return
    busy = _claimed_for(pipeline, run, stage)
    if busy > 0:
        # Another delivery holds the stage (claimed moments ago). Come back when its claim
        # runs out, rather than act beside it or drop the message (it may have crashed).
        log.info(
            "stage %s is being worked on; trying again in %.0fs",
            stage,
            busy,
            extra={"action": "stage_busy", "requestId": run.run_id, "stage": stage},
        )
        send_stage(pipeline, run, stage, busy + 1)
        return
    try:
        # Claim the stage with a conditional write before any call that changes Partner
        # Center: of two deliveries that read the run at once, only one gets past this line;
        # a later one sees the fresh claim above. A claim older than `claim_seconds` (its
        # delivery crashed) is simply claimed again.
        run = pipeline.ledger.replace(
            run.evolve(claimed_at=stamp(pipeline.clock()), claimed_stage=stage)
        )
        CLAIM.set(run.claimed_at)
        with fenced(lambda: _still_claimed(pipeline, run.run_id)):
            run_stage(pipeline, run, stage)
    except LedgerConflict:
        if pipeline.ledger.get(run.run_id) is None:  # not moved on: its row is gone
            report_lost(pipeline, message)
            return
        log.info(
            "run moved on concurrently; duplicate delivery consumed",
            extra={"action": "duplicate_delivery", "requestId": run.run_id, "stage": stage},
        )
    except Exception as exc:
        note_error(pipeline, run.run_id, f"{stage}: {type(exc).__name__}: {exc}")
        raise  # a bug: let the host retry, then poison (and the dead-letter record)


def _still_claimed(pipeline: Pipeline, run_id: str) -> None:
    """Before a non-idempotent call: the stage's claim is still this delivery's. A delivery
    that outlived its claim (a long wait) never makes the call beside the one that took over.
    A claim this delivery wrote less than half of `claim_seconds` ago needs no read: no other
    delivery takes a claim younger than `claim_seconds`, and the half is room for instances
    whose clocks disagree."""
    mine = CLAIM.get()
    if mine and (pipeline.clock() - parse_stamp(mine)).total_seconds() < YOUNG * (
        pipeline.claim_seconds
    ):
        return
    stored = pipeline.ledger.get(run_id)
    if stored is None or stored.claimed_at != CLAIM.get():
        raise ClaimLost(f"run {run_id}: another delivery took over this stage; not sent")


def _claimed_for(pipeline: Pipeline, run: Run, stage: Stage) -> float:
    """Seconds left on another delivery's claim of this stage (0 when free)."""
    if run.claimed_stage != stage or not run.claimed_at:
        return 0.0
    age = (pipeline.clock() - parse_stamp(run.claimed_at)).total_seconds()
    return max(0.0, pipeline.claim_seconds - age)


def note_error(pipeline: Pipeline, run_id: str, text: str) -> None:
    """Keep the last unexpected error on the run, for `pcpub status` and the dead letter."""
    try:
        current = pipeline.ledger.get(run_id)
        if current is not None:
            # The delivery failed: release its claim so the host's retry can act.
            pipeline.ledger.replace(current.evolve(last_error=text[:2000], claimed_stage=None))
    except Exception:
        log.exception("could not record the error", extra={"requestId": run_id})


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
            extra={"action": "handoff_resent", "requestId": run.run_id, "stage": current},
        )
        send_stage(pipeline, run, current)
