"""The timer that finds runs waiting on Partner Center whose check is due (schedule: the
POLL_SCHEDULE setting), and the queue-triggered `check` that runs each check.

The tick dispatches due checks to the check queue and re-drives runs whose retry delay is
over, through queue output bindings so their listeners poll at once (shared.handoff); a check
hands its run on the same way the moment it is done (shared.pipeline.checks)."""

from __future__ import annotations

import azure.functions as func

from functions.bindings import CONNECTION, Handoff, handing_off, to
from shared.messages import Stage
from shared.queues import CHECKS

bp = func.Blueprint()


@bp.function_name("poller")
@bp.timer_trigger(
    arg_name="timer", schedule="%POLL_SCHEDULE%", run_on_startup=False, use_monitor=True
)
@to(bp, CHECKS, "to_check")
@to(bp, Stage.RESOLVE, "to_resolve")
@to(bp, Stage.UPDATE_DRAFT, "to_draft")
@to(bp, Stage.PROMOTE, "to_promote")
def poller(
    timer: func.TimerRequest,
    to_check: Handoff,
    to_resolve: Handoff,
    to_draft: Handoff,
    to_promote: Handoff,
) -> None:
    from shared import wiring  # on first invocation: SDKs stay out of the indexing
    from shared.pipeline.poller import poll_due

    with handing_off({CHECKS: to_check, **_stages(to_resolve, to_draft, to_promote)}):
        # The concrete request carries the schedule status (use_monitor); the abstract one
        # does not declare it.
        status = getattr(timer, "schedule_status", None)
        poll_due(wiring.pipeline(), schedule_status=status)


@bp.function_name("check")
@bp.queue_trigger(arg_name="msg", queue_name=CHECKS, connection=CONNECTION)
@to(bp, Stage.RESOLVE, "to_resolve")
@to(bp, Stage.UPDATE_DRAFT, "to_draft")
@to(bp, Stage.PROMOTE, "to_promote")
def check(
    msg: func.QueueMessage,
    to_resolve: Handoff,
    to_draft: Handoff,
    to_promote: Handoff,
) -> None:
    from shared import wiring
    from shared.pipeline.checks import handle_check_message

    with handing_off(_stages(to_resolve, to_draft, to_promote)):
        handle_check_message(wiring.pipeline(), msg.get_body(), msg.dequeue_count)


def _stages(resolve: Handoff, draft: Handoff, promote: Handoff) -> dict[Stage | str, Handoff]:
    """Where a wait that is over hands its run: a release's offer to resolve, a processed
    package to the draft, an approved or certified submission to promote (a check that finds
    the offer live ends the run itself)."""
    return {Stage.RESOLVE: resolve, Stage.UPDATE_DRAFT: draft, Stage.PROMOTE: promote}
