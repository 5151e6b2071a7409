"""The timer that sweeps the poison queues into dead-letter records (schedule: the
DEADLETTER_SCHEDULE setting). A timer, not a trigger per poison queue: a trigger decodes the
body first, so a message that is not base64 would be poisoned again where nothing looks."""

from __future__ import annotations

import azure.functions as func

bp = func.Blueprint()


@bp.function_name("deadletters")
@bp.timer_trigger(
    arg_name="timer", schedule="%DEADLETTER_SCHEDULE%", run_on_startup=False, use_monitor=True
)
def deadletters(timer: func.TimerRequest) -> None:
    from shared import wiring  # on first invocation (cold start)
    from shared.pipeline.deadletter import sweep_poison

    sweep_poison(wiring.pipeline(), wiring.raw_queue)
