"""The hourly timer that moves runs finished more than PC_ARCHIVE_AFTER_DAYS ago out of the
hot table (shared.archive), up to 10,000 a time, so the ledger's cost follows the runs in
flight."""

from __future__ import annotations

from datetime import timedelta

import azure.functions as func

bp = func.Blueprint()


@bp.function_name("archiver")
@bp.timer_trigger(arg_name="timer", schedule="0 17 * * * *", run_on_startup=False)
def archiver(timer: func.TimerRequest) -> None:
    from shared import wiring  # on first invocation: SDKs stay out of indexing (cold start)
    from shared.runs import now_utc
    from shared.settings import get_settings

    days = get_settings().archive_after_days
    wiring.pipeline().ledger.archive_finished(now_utc() - timedelta(days=days))
