"""Dead letters: a message the host gave up on (moved to `<queue>-poison` after
maxDequeueCount) is recorded durably with its run, stage and last error, and the run shows it,
before the poison copy's 7-day time to live can expire it unseen. `pcpub poison redrive` puts
it back once the cause is fixed."""

from __future__ import annotations

import json
import logging
from typing import Any

from pydantic import ValidationError

from shared.ledger import stamp
from shared.messages import StageMessage
from shared.pipeline.effects import Pipeline

log = logging.getLogger(__name__)


def record_dead_letter(
    pipeline: Pipeline, queue: str, message_id: str, body: bytes, dequeue_count: int
) -> None:
    text = body.decode("utf-8", "replace")
    run_id, stage = _run_of(text)
    run = pipeline.ledger.get(run_id) if run_id else None
    reason = (
        run.last_error
        if run and run.last_error
        else f"the host gave up after {dequeue_count} deliveries"
    )
    pipeline.ledger.record_dead_letter(
        message_id,
        {
            "queue": queue,
            "run_id": run_id or "",
            "stage": stage or "",
            "body": text[:30_000],
            "dequeue_count": dequeue_count,
            "reason": reason[:2000],
            "at": stamp(pipeline.clock()),
            "redriven": False,
        },
    )
    if run is not None and not run.status.terminal:
        pipeline.ledger.replace(run.evolve(dead_letter=f"{queue}: {reason}"[:2000]))
    log.error(
        "message dead-lettered from %s: %s",
        queue,
        reason,
        extra={"action": "message_poisoned", "run_id": run_id, "queue": queue},
    )


def _run_of(text: str) -> tuple[str | None, str | None]:
    try:
        message = StageMessage.model_validate_json(text)
        return message.run_id, message.stage
    except ValidationError:
        pass
    try:
        data: Any = json.loads(text)
    except ValueError:
        return None, None
    request_id = data.get("requestId") if isinstance(data, dict) else None
    return (request_id if isinstance(request_id, str) else None), "intake"
