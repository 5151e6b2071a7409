"""Recording how long Partner Center's waits took (shared.wait_history), as runs leave them."""

from __future__ import annotations

import logging
from datetime import datetime

from shared.messages import Stage
from shared.pipeline.outcomes import Advance, Finished, Outcome, Wait
from shared.runs import Run, parse_stamp
from shared.wait_history import WaitHistory, kind_of

log = logging.getLogger(__name__)
# Waits on Partner Center's own work; the gates wait on people and calendars.
LEARNED = frozenset({Stage.AWAIT_PACKAGE, Stage.AWAIT_PREVIEW, Stage.AWAIT_LIVE})


def wait_ended(run: Run, stage: Stage, outcome: Outcome) -> datetime | None:
    """When the wait on Partner Center that `outcome` takes `run` out of began (its answer
    came: the stage record it had open), or None when the outcome ends no such wait."""
    if stage not in LEARNED:
        return None
    over = isinstance(outcome, Advance | Finished) or (
        isinstance(outcome, Wait) and outcome.check != stage
    )
    last = run.timeline[-1] if run.timeline else None
    if not over or last is None or last.stage != stage or last.ended is not None:
        return None
    return parse_stamp(last.started)


def learn(
    waits: WaitHistory | None, run: Run, stage: Stage, outcome: Outcome, now: datetime
) -> None:
    """After the write that took `run` out of a wait on Partner Center (its answer came), the
    wait's length, from the stage record it had open, up to when the check that saw its end
    was due: a check held back (the budget keeps polls last) saw an end that came earlier,
    and waits we lengthened would teach later runs to poll late; and from when the check
    before it was due, which found it still going. A failure only costs the history one."""
    began = wait_ended(run, stage, outcome)
    if waits is None or began is None:
        return
    seen = min(now, parse_stamp(run.next_check_at)) if run.next_check_at else now
    seconds = (seen - began).total_seconds()
    # Its last check before this one found it going: the end lies between the two (a check
    # of an earlier wait says nothing of this one).
    since = (parse_stamp(run.checked_at) - began).total_seconds() if run.checked_at else 0.0
    try:
        waits.observe(kind_of(run.offer_type, stage), run.run_id, seconds, max(0.0, since))
    except Exception:
        log.warning("could not record a wait's length", extra={"action": "wait_unrecorded"})
