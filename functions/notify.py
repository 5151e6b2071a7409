"""Events on their way to the configured sinks (webhook, Teams) -> one post each."""

from __future__ import annotations

import azure.functions as func

from functions.bindings import CONNECTION
from shared.queues import NOTIFY

bp = func.Blueprint()


@bp.function_name("notify")
@bp.queue_trigger(arg_name="msg", queue_name=NOTIFY, connection=CONNECTION)
def notify(msg: func.QueueMessage) -> None:
    from shared import wiring  # on first invocation: SDKs stay out of indexing (cold start)

    notifier = wiring.pipeline().notifier
    assert notifier is not None
    notifier.deliver(msg.get_body(), msg.id or "unknown")
