"""How a run ends whatever it is doing: cancelled by an operator, or past its deadline.

Both are checked at every delivery and every poller check, before the stage runs. Either way
the run deletes the submission it created while Partner Center still allows it (one in
progress), and its reason says so, or why it could not. Time held at a gate (waiting for
dependencies or an approval) is not counted against the deadline.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.ledger import Run, parse_stamp
from shared.messages import Stage
from shared.pipeline.effects import Pipeline, apply_outcome
from shared.pipeline.gates import GATES
from shared.pipeline.outcomes import Failed
from shared.pipeline.submission_state import withdraw


def ended(pipeline: Pipeline, run: Run, now: datetime) -> bool:
    """True when the run was ended here (cancelled or out of time), and recorded so."""
    if run.status.terminal:
        return False
    if run.cancel:
        return _cancel(pipeline, run)
    return _past_deadline(pipeline, run, now)


def _cancel(pipeline: Pipeline, run: Run) -> bool:
    asked = run.cancel
    reason = (
        f"cancelled by {asked.get('by') or '?'} at {asked.get('at') or '?'}"
        + (f": {asked['reason']}" if asked.get("reason") else "")
        + f" (at stage {run.stage})"
        + withdraw(run, pipeline.stage_deps)
    )
    apply_outcome(pipeline, run, Stage(run.stage), Failed(reason=reason, cancelled=True), 0)
    return True


def _past_deadline(pipeline: Pipeline, run: Run, now: datetime) -> bool:
    """Fail a run that has been going longer than the deadline, saying where it stood."""
    if run.stage in GATES:
        return False  # held, not working: the gate itself says when a wait is too long
    if not run.created_at or now - parse_stamp(run.created_at) < timedelta(
        seconds=pipeline.deadline_seconds + run.held_seconds
    ):
        return False
    hours = pipeline.deadline_seconds / 3600
    held = f" (not counting {run.held_seconds:.0f} s held)" if run.held_seconds else ""
    reason = (
        f"deadline of {hours:g} h passed at stage {run.stage}{held}"
        + (f" ({run.reason})" if run.reason else "")
        + (f"; Partner Center state {run.pc_status}" if run.pc_status else "")
        + withdraw(run, pipeline.stage_deps)
    )
    apply_outcome(pipeline, run, Stage(run.stage), Failed(reason=reason), 0)
    return True
