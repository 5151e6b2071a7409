"""The timer that checks runs waiting on Partner Center (schedule: the POLL_SCHEDULE setting)."""

from __future__ import annotations

import azure.functions as func

bp = func.Blueprint()


@bp.function_name("poller")
@bp.timer_trigger(
    arg_name="timer", schedule="%POLL_SCHEDULE%", run_on_startup=False, use_monitor=True
)
def poller(timer: func.TimerRequest) -> None:
    from shared import wiring  # on first invocation: SDKs stay out of indexing (cold start)
    from shared.pipeline.runner import poll_due

    poll_due(wiring.pipeline())
