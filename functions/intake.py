"""Publish requests and releases from other systems -> the intake stage."""

from __future__ import annotations

import azure.functions as func

from functions.bindings import CONNECTION, Handoff, handing_off, to
from shared.messages import Stage
from shared.queues import PUBLISH_REQUESTS

bp = func.Blueprint()


@bp.function_name("intake")
@bp.queue_trigger(arg_name="msg", queue_name=PUBLISH_REQUESTS, connection=CONNECTION)
@to(bp, Stage.RESOLVE, "to_resolve")
def intake(msg: func.QueueMessage, to_resolve: Handoff) -> None:
    from shared import wiring  # on first invocation: SDKs stay out of indexing (cold start)
    from shared.pipeline.intake import accept

    with handing_off({Stage.RESOLVE: to_resolve}):
        accept(wiring.pipeline(), msg.get_body(), msg.id or "unknown")
