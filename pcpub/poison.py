"""The poison queues and the dead letters the app recorded of them: list them, send them back
exactly as they were (re-opening the runs they failed), or mark one handled."""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from pcpub.ops import Storage
from shared.pipeline.deadletter import describe_body, reopen
from shared.queues import TRIGGERED_QUEUES, poison_queue


def poison_messages(storage: Storage) -> list[dict[str, Any]]:
    """Dead letters (recorded by the app's sweep) not yet re-driven, and any message still
    sitting in a poison queue (peeked raw, so no body can break the listing)."""
    found = [
        {
            "source": "dead-letter",
            "id": d["RowKey"],
            "queue": d.get("queue"),
            "runId": d.get("run_id") or None,
            "stage": d.get("stage") or None,
            "reason": d.get("reason"),
            "decodeError": d.get("decode_error") or None,
            "size": d.get("size"),
            "sha256": d.get("sha256"),
            "dequeueCount": d.get("dequeue_count"),
            "at": d.get("at"),
            "preview": d.get("preview"),
        }
        for d in storage.ledger.dead_letters()
        if not d.get("redriven")
    ]
    for name in TRIGGERED_QUEUES:
        try:
            messages = list(storage.queue(poison_queue(name), raw=True).peek_messages(32))
        except ResourceNotFoundError:
            continue  # a queue that does not exist yet holds nothing
        for message in messages:
            facts = describe_body(str(message.content))
            found.append(
                {
                    "source": "poison-queue",
                    "queue": poison_queue(name),
                    "id": message.id,
                    "at": str(message.inserted_on),
                    "decodeError": facts["decode_error"] or None,
                    "size": facts["size"],
                    "sha256": facts["sha256"],
                    "preview": facts["preview"],
                }
            )
    return found


def redrive(storage: Storage, ids: set[str] | None = None) -> int:
    """Send dead letters (all, or those named) and poison-queue messages back to their queues
    exactly as they were, and re-open the runs they failed. A message is removed from a
    poison queue only once it is sent again; returns how many were sent."""
    moved = 0
    for letter in storage.ledger.dead_letters():
        if letter.get("redriven") or (ids is not None and letter["RowKey"] not in ids):
            continue
        run = storage.ledger.get(str(letter.get("run_id"))) if letter.get("run_id") else None
        if run is not None and run.dead_letter and reopen(storage.ledger, run) is None:
            continue  # its offer is another run's now: re-drive it once that one is done
        _send_raw(storage, str(letter["queue"]), str(letter["content"]))
        storage.ledger.record_dead_letter(
            letter["RowKey"],
            {
                **{k: v for k, v in letter.items() if k not in ("PartitionKey", "RowKey")},
                "redriven": True,
            },
        )
        moved += 1
    for name in TRIGGERED_QUEUES:
        client = storage.queue(poison_queue(name), raw=True)
        while True:  # a batch at a time until none is left visible (moved, or leased here)
            try:
                messages = list(client.receive_messages(max_messages=32, visibility_timeout=30))
            except ResourceNotFoundError:
                break
            if not messages:
                break
            for message in messages:
                if ids is not None and message.id not in ids:
                    continue  # it becomes visible again when the short lease ends
                _send_raw(storage, name, str(message.content))
                client.delete_message(message)
                moved += 1
    return moved


def backlog(storage: Storage) -> dict[str, int]:
    """Poison queues holding more than a listing shows (it peeks the 32 oldest), and about how
    many each holds: the app's sweep turns them into dead letters within a tick or two."""
    counts: dict[str, int] = {}
    for name in TRIGGERED_QUEUES:
        try:
            held = storage.queue(poison_queue(name), raw=True).get_queue_properties()
        except ResourceNotFoundError:
            continue
        if (count := held.approximate_message_count or 0) > 32:
            counts[poison_queue(name)] = count
    return counts


def _send_raw(storage: Storage, queue: str, content: str) -> None:
    """Put `content` back exactly as it was (no second encoding), creating the queue if gone."""
    client = storage.queue(queue, raw=True)
    try:
        client.send_message(content, time_to_live=-1)
    except ResourceNotFoundError:
        client.create_queue()
        client.send_message(content, time_to_live=-1)


def drop(storage: Storage, message_id: str) -> bool:
    """Mark a dead letter handled without re-driving it (e.g. a body that can never work)."""
    for letter in storage.ledger.dead_letters():
        if letter["RowKey"] == message_id and not letter.get("redriven"):
            storage.ledger.record_dead_letter(
                message_id,
                {
                    **{k: v for k, v in letter.items() if k not in ("PartitionKey", "RowKey")},
                    "redriven": True,
                    "dropped": True,
                },
            )
            return True
    return False
