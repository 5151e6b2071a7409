"""Publish requests and releases from other systems -> the intake stage."""

from __future__ import annotations

import azure.functions as func

from shared.queues import PUBLISH_REQUESTS

bp = func.Blueprint()


@bp.function_name("intake")
@bp.queue_trigger(arg_name="msg", queue_name=PUBLISH_REQUESTS, connection="AzureWebJobsStorage")
def intake(msg: func.QueueMessage) -> None:
    from shared import wiring  # on first invocation: SDKs stay out of indexing (cold start)
    from shared.pipeline.intake import accept

    accept(wiring.pipeline(), msg.get_body(), msg.id or "unknown")
