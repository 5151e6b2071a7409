"""The timer that checks runs waiting on Partner Center (schedule: the POLL_SCHEDULE setting)."""

from __future__ import annotations

import azure.functions as func

from shared import wiring
from shared.pipeline.runner import poll_due

bp = func.Blueprint()


@bp.function_name("poller")
@bp.timer_trigger(
    arg_name="timer", schedule="%POLL_SCHEDULE%", run_on_startup=False, use_monitor=True
)
def poller(timer: func.TimerRequest) -> None:
    poll_due(wiring.pipeline())
