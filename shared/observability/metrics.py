"""The app's metrics, by the names alerts and the workbook query (infra/app/monitoring.bicep).

Instruments come from the API's meter, which forwards to the real provider once
`setup.configure` sets one and costs nothing before.
"""

from __future__ import annotations

from opentelemetry import metrics

from shared.messages import Event, EventKind
from shared.runs import Run, parse_stamp

_meter = metrics.get_meter("pc-publisher")

RUNS_ENDED = _meter.create_counter("pcpub.runs.ended", description="runs that ended, by outcome")
STAGE_DURATION = _meter.create_histogram(
    "pcpub.stage.duration", unit="s", description="time a run spent in a stage, by stage"
)
CERTIFICATION_WAIT = _meter.create_histogram(
    "pcpub.certification.wait", unit="s", description="waits on Partner Center's certification"
)
PC_CALLS = _meter.create_counter(
    "pcpub.pc.calls", description="Partner Center calls, by method, route and status"
)
INCIDENTS = _meter.create_counter("pcpub.incidents.opened", description="incidents opened")
APPROVALS_WAITING = _meter.create_counter(
    "pcpub.approvals.waiting", description="go-live approval waits announced (reminders repeat)"
)
POISONED = _meter.create_counter("pcpub.messages.poisoned", description="dead-lettered messages")
STALLED = _meter.create_counter("pcpub.runs.stalled", description="runs re-driven after a stall")

WAITS_ON_CERTIFICATION = ("await_preview", "await_live")
_ENDINGS = {
    EventKind.SUCCEEDED,
    EventKind.FAILED,
    EventKind.CANCELLED,
    EventKind.UNCHANGED,
    EventKind.PLANNED,
    EventKind.REJECTED,
}


def run_event(kind: EventKind, run: Run) -> None:
    """A run's event: counted as the run's end when it announces the status the run has."""
    if kind in _ENDINGS and run.status == kind.value:
        RUNS_ENDED.add(1, {"outcome": kind.value, "offer": run.offer})


def event_published(event: Event) -> None:
    """Count the tenant-wide events: incidents opened, approvals waiting."""
    if event.kind is EventKind.INCIDENT_OPENED:
        INCIDENTS.add(1)
    elif event.kind is EventKind.APPROVAL_WAITING:
        APPROVALS_WAITING.add(1, {"offer": event.offer or ""})


def pc_call(method: str, route: str, status: int | None) -> None:
    """One attempt at a Partner Center call; status None when no answer came (transport)."""
    kind = "transport" if status is None else "throttled" if status == 429 else f"{status // 100}xx"
    PC_CALLS.add(1, {"method": method, "route": route, "status": status or 0, "class": kind})


def closed_records(before: Run, after: Run) -> list[tuple[str, str, float]]:
    """(stage, result, seconds) of the stage records an outcome closed: the one that was open,
    and any opened and closed by the same write."""
    first = max(len(before.timeline) - 1, 0)
    closed = []
    for index, record in enumerate(after.timeline[first:], start=first):
        was_open = index >= len(before.timeline) or before.timeline[index].ended is None
        if record.ended is None or not was_open:
            continue
        seconds = (parse_stamp(record.ended) - parse_stamp(record.started)).total_seconds()
        closed.append((record.stage, record.result or "ok", seconds))
    return closed


def stages_closed(before: Run, after: Run) -> None:
    """Record how long the stages an outcome closed took (certification waits apart too)."""
    for stage, result, seconds in closed_records(before, after):
        attributes = {"stage": stage, "result": result}
        STAGE_DURATION.record(seconds, attributes)
        if stage in WAITS_ON_CERTIFICATION:
            CERTIFICATION_WAIT.record(seconds, attributes)
