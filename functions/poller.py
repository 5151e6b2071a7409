"""The timer that checks runs waiting on Partner Center (schedule: the POLL_SCHEDULE setting).

Runs whose wait is over go on to their next stage through the timer's queue output bindings,
so that stage starts at once (shared.handoff)."""

from __future__ import annotations

import azure.functions as func

from functions.bindings import Handoff, handing_off, to
from shared.messages import Stage

bp = func.Blueprint()


@bp.function_name("poller")
@bp.timer_trigger(
    arg_name="timer", schedule="%POLL_SCHEDULE%", run_on_startup=False, use_monitor=True
)
@to(bp, Stage.RESOLVE, "to_resolve")
@to(bp, Stage.UPDATE_DRAFT, "to_draft")
@to(bp, Stage.PROMOTE, "to_promote")
@to(bp, Stage.COMPLETE, "to_complete")
def poller(
    timer: func.TimerRequest,
    to_resolve: Handoff,
    to_draft: Handoff,
    to_promote: Handoff,
    to_complete: Handoff,
) -> None:
    from shared import wiring  # on first invocation: SDKs stay out of the indexing
    from shared.pipeline.runner import poll_due

    outputs = {
        Stage.RESOLVE: to_resolve,
        Stage.UPDATE_DRAFT: to_draft,
        Stage.PROMOTE: to_promote,
        Stage.COMPLETE: to_complete,
    }
    with handing_off(outputs):
        poll_due(wiring.pipeline())
