"""Holds: "this run may not call Partner Center yet, because ...", in one place.

A hold is an operator's pause (shared.pauses: everything, or one offer) or an open incident
breaker (shared.incidents); a go-live waiting for approval or its schedule is the same shape,
kept at its own gate stage (shared.pipeline.gates). A held run waits at the stage it was about
to run, with the hold's reason, and the time it spends held does not count against its
deadline (the deadline's reason says how much was held).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from shared.incidents import Breaker, signature
from shared.ledger import Run
from shared.messages import Event, EventKind, Stage
from shared.partnercenter.errors import PartnerCenterError
from shared.pipeline.effects import Pipeline
from shared.pipeline.events import publish
from shared.pipeline.outcomes import Outcome, Patch, Retry, Wait

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Gate:
    """What the holds said before a stage: wait (with the outcome to record), or go, and
    whether this delivery is the incident's probe."""

    held: Wait | None
    probing: bool


def before(pipeline: Pipeline, run: Run, stage: Stage) -> Gate:
    paused = pipeline.pauses.holding(run) if pipeline.pauses is not None else None
    if paused is not None:
        return _held(run, stage, pipeline.stage_deps.poll_seconds, paused.describe())
    incidents = pipeline.incidents
    if incidents is None:
        return Gate(None, False)
    now = pipeline.clock()
    breaker = incidents.glance()
    if not breaker.open:
        return Gate(None, False)
    held = incidents.hold(now, breaker)
    if held is None:
        return Gate(None, True)  # the probe
    breaker, seconds = held
    return _held(
        run, stage, seconds, f"Partner Center incident since {breaker.opened_at}: {breaker.message}"
    )


def _held(run: Run, stage: Stage, seconds: float, why: str) -> Gate:
    """Wait at `stage` for `seconds`, saying why; the time is held, not worked."""
    return Gate(
        Wait(
            check=stage,
            delay_seconds=seconds,
            reason=f"held: {why}",
            patch=Patch(held_seconds=run.held_seconds + seconds),
        ),
        False,
    )


def after(
    pipeline: Pipeline, run: Run, outcome: Outcome, error: PartnerCenterError | None, gate: Gate
) -> Outcome:
    """Count the stage's failure toward an incident (or close one the probe found over), and
    hold instead of failing a run on an error that speaks of the service, not the request."""
    incidents = pipeline.incidents
    if incidents is None:
        return outcome
    now = pipeline.clock()
    sig = signature(error) if error is not None else None
    if sig is None:
        if gate.probing and (closed := incidents.close(now)) is not None:
            _announce(pipeline, EventKind.INCIDENT_CLOSED, closed)
        return outcome
    assert error is not None
    opened = incidents.observe(now, run.offer or run.run_id, error)
    if opened is not None:
        _announce(pipeline, EventKind.INCIDENT_OPENED, opened)
    if isinstance(outcome, Retry):
        return outcome
    # A 4xx the request cannot have caused is the service's trouble: try again later.
    return Retry(
        delay_seconds=pipeline.retry_delay_seconds,
        reason=f"{getattr(outcome, 'reason', '')} (counted toward an incident: the same "
        "failure across offers holds every run)".strip(),
    )


def _announce(pipeline: Pipeline, kind: EventKind, breaker: Breaker) -> None:
    event = Event(
        kind=kind,
        request_id=breaker.incident,
        reason=breaker.message,
        at=breaker.opened_at,
    )
    publish(pipeline, event)
