"""One function per poison queue: records the dead letter durably (see
shared.pipeline.deadletter) before the poison copy can expire."""

from __future__ import annotations

import azure.functions as func

from shared.queues import TRIGGERED_QUEUES, poison_queue

bp = func.Blueprint()


def _register(queue: str) -> None:
    name = "deadletter_" + queue.removeprefix("pc-").replace("-", "_")

    def handler(msg: func.QueueMessage) -> None:
        from shared import wiring  # on first invocation (cold start)
        from shared.pipeline.deadletter import record_dead_letter

        record_dead_letter(
            wiring.pipeline(), queue, msg.id or "unknown", msg.get_body(), msg.dequeue_count or 0
        )

    handler.__name__ = handler.__qualname__ = name
    trigger = bp.queue_trigger(
        arg_name="msg", queue_name=poison_queue(queue), connection="AzureWebJobsStorage"
    )
    bp.function_name(name)(trigger(handler))


for _queue in TRIGGERED_QUEUES:
    _register(_queue)
