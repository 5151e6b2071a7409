"""Dead letters: a message the host gave up on (moved to `<queue>-poison` after
maxDequeueCount) is recorded durably, whatever its body, and its run ends visibly.

Poison queues are swept by a timer with a raw queue client, not by queue triggers: a trigger
decodes the body before our code runs, so a message that is not base64 would fail there again
and land in `<queue>-poison-poison`, where nothing looks. Here nothing is decoded on the way in:
the raw content is kept for an exact re-drive, with its size, hash and what decoding it said.
The run it names is failed with the host's last error (its offer's turn released, an event
sent); `pcpub poison redrive` re-opens it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from shared.ledger import Ledger, LedgerConflict, Run, RunStatus, stamp
from shared.messages import Stage, StageMessage
from shared.observability import metrics
from shared.pipeline.effects import Pipeline, apply_outcome
from shared.pipeline.outcomes import Failed
from shared.publish_request import bounded
from shared.queues import TRIGGERED_QUEUES, poison_queue
from shared.redaction import carries_secret
from shared.strictjson import JsonRefused, loads_strict

if TYPE_CHECKING:
    from azure.storage.queue import QueueClient

log = logging.getLogger(__name__)
PREVIEW_CHARS = 500
BATCH = 32  # the most messages a queue gives in one receive
# A sweep stops after this long (the timer ticks every minute in Azure); what it did not
# record comes back when its lease ends, for the next tick.
SWEEP_SECONDS = 45.0


def sweep_poison(
    pipeline: Pipeline,
    raw_client: Callable[[str], QueueClient],
    *,
    seconds: float = SWEEP_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Record and remove every message in the poison queues, a batch of 32 at a time until a
    queue is empty or `seconds` have gone (an incident can poison hundreds of runs at once:
    each must end visibly on this tick, not 32 a minute); returns how many."""
    from azure.core.exceptions import ResourceNotFoundError

    pipeline.know_secrets()  # a body may carry one: it must be recognised to be masked
    done = 0
    until = clock() + seconds
    for queue in TRIGGERED_QUEUES:
        client = raw_client(poison_queue(queue))
        batch = BATCH
        while batch == BATCH and clock() < until:
            try:
                messages = list(client.receive_messages(max_messages=BATCH, visibility_timeout=120))
            except ResourceNotFoundError:
                break  # nothing was ever poisoned there
            batch = len(messages)
            for message in messages:
                if clock() >= until:  # the rest come back when their lease ends
                    break
                try:
                    record_dead_letter(
                        pipeline,
                        queue,
                        message.id,
                        str(message.content),
                        message.dequeue_count or 0,
                    )
                except Exception:  # left in the poison queue: a later sweep tries again
                    log.exception("could not record a dead letter", extra={"queue": queue})
                    continue
                client.delete_message(message)
                done += 1
    return done


def decode(content: str) -> tuple[bytes | None, str | None]:
    """The body a trigger would have received, or why it could not receive one."""
    try:
        return base64.b64decode(content.encode("ascii"), validate=True), None
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None, "not base64 (messageEncoding is base64): the trigger could not bind it"


def describe_body(content: str) -> dict[str, Any]:
    """What an operator needs to know about a body without trusting it."""
    body, error = decode(content)
    text = None
    if body is not None:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            error = f"not UTF-8 (byte {exc.start})"
    return {
        "size": len(body) if body is not None else len(content),
        "sha256": hashlib.sha256(body if body is not None else content.encode()).hexdigest(),
        "decode_error": error or "",
        "preview": bounded(text if text is not None else content, PREVIEW_CHARS),
        "text": text,
    }


def record_dead_letter(
    pipeline: Pipeline, queue: str, message_id: str, content: str, dequeue_count: int
) -> None:
    facts = describe_body(content)
    text: str | None = facts.pop("text")
    run_id, stage = _run_of(text) if text is not None else (None, None)
    run = pipeline.ledger.get(run_id) if run_id else None
    reason = bounded(
        run.last_error
        if run and run.last_error
        else facts["decode_error"] or f"the host gave up after {dequeue_count} deliveries"
    )
    masked = carries_secret([content, text or ""])
    pipeline.ledger.record_dead_letter(
        message_id,
        {
            "queue": queue,
            "run_id": run_id or "",
            "stage": stage or "",
            # The raw queue content, for an exact re-drive; a body that carries a secret is
            # kept masked (and is never re-driven with it).
            "content": _masked(content, text) if masked else content,
            "masked": masked,
            "dequeue_count": dequeue_count,
            "reason": reason,
            "at": stamp(pipeline.clock()),
            "redriven": False,
            **facts,
        },
    )
    if run is not None and not run.status.terminal and run.stage == stage:
        _fail(pipeline, run, f"{queue}: {reason}")
    metrics.POISONED.add(1, {"queue": queue})
    log.error(
        "message dead-lettered from %s: %s",
        queue,
        reason,
        extra={"action": "message_poisoned", "requestId": run_id, "queue": queue},
    )


def _masked(content: str, text: str | None) -> str:
    """The content with secrets masked, encoded as it came (base64 or not)."""
    if text is None:
        return bounded(content, 60_000)
    return base64.b64encode(bounded(text, 40_000).encode()).decode()


def _fail(pipeline: Pipeline, run: Run, dead_letter: str) -> None:
    """The host gave up on the run's message: end the run (releasing its offer), saying why."""
    for _ in range(3):
        try:
            marked = pipeline.ledger.replace(run.evolve(dead_letter=bounded(dead_letter)))
            apply_outcome(
                pipeline,
                marked,
                Stage(marked.stage),
                Failed(reason=f"dead-lettered at {marked.stage}: {dead_letter}"),
                0,
            )
            return
        except LedgerConflict:
            fresh = pipeline.ledger.get(run.run_id)
            if fresh is None or fresh.status.terminal:
                return
            run = fresh


def _run_of(text: str) -> tuple[str | None, str | None]:
    try:
        message = StageMessage.model_validate_json(text)
        return message.run_id, message.stage
    except ValidationError:
        pass
    try:
        data: Any = loads_strict(text)
    except JsonRefused:
        return None, None
    request_id = data.get("requestId") if isinstance(data, dict) else None
    return (request_id[:100] if isinstance(request_id, str) else None), "intake"


def reopen(ledger: Ledger, run: Run) -> Run | None:
    """Put a run failed by a dead letter back where it stood, when its offer is free."""
    if run.status is not RunStatus.FAILED or not run.dead_letter:
        return None
    if run.product_id and ledger.locks.acquire(run.product_id, run.run_id) is not None:
        return None
    timeline = list(run.timeline)
    if timeline and timeline[-1].stage == run.stage:
        last = timeline[-1]
        timeline[-1] = type(last)(stage=last.stage, started=last.started, calls=last.calls)
    return ledger.replace(
        run.evolve(
            status=RunStatus.RUNNING,
            dead_letter=None,
            last_error=None,
            reason=None,
            claimed_stage=None,
            timeline=timeline,
        )
    )
