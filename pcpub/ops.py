"""What operators and other systems do with a running pc-publisher: send a publish request,
read a run's timeline, list runs, look at and re-drive poison queues."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueClient

from shared.ledger import Ledger, Run
from shared.messages import PublishRequest, parse_publish_request
from shared.queues import (
    PUBLISH_REQUESTS,
    TRIGGERED_QUEUES,
    QueueSender,
    poison_queue,
    queue_client_kwargs,
)


class Storage:
    """The pipeline's queues and ledger: by connection string (Azurite, or an account with
    keys), or by account name with the operator's Entra identity (accounts with shared keys
    off, as infra/ deploys them)."""

    def __init__(self, connection_string: str | None = None, *, account: str | None = None) -> None:
        self.connection_string = connection_string
        self._credential: Any = None
        if connection_string:
            tables = TableServiceClient.from_connection_string(connection_string)
        else:
            assert account, "give a connection string or an account name"
            # An account name, or any of its endpoint URLs.
            account = re.sub(r"^https://([^.]+)\..*$", r"\1", account.strip())
            self._credential = operator_credential()
            self._queue_url = f"https://{account}.queue.core.windows.net"
            tables = TableServiceClient(
                f"https://{account}.table.core.windows.net", credential=self._credential
            )
        self.ledger = Ledger(tables)
        self.sender = QueueSender(self.queue)

    def queue(self, name: str) -> QueueClient:
        if self.connection_string:
            return QueueClient.from_connection_string(
                self.connection_string, name, **queue_client_kwargs()
            )
        return QueueClient(
            self._queue_url, name, credential=self._credential, **queue_client_kwargs()
        )


def operator_credential() -> Any:
    """The operator's own sign-in (Azure CLI, environment, ...). The managed-identity probe
    of the metadata address is left out unless this runs in Azure."""
    from azure.identity import DefaultAzureCredential

    from shared.credentials import running_in_azure

    return DefaultAzureCredential(exclude_managed_identity_credential=not running_in_azure())


def enqueue(storage: Storage, body: str) -> PublishRequest:
    """Validate locally (so the sender hears of mistakes at once), then send."""
    request = parse_publish_request(body)
    storage.sender.send(PUBLISH_REQUESTS, request.to_json())
    return request


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ"
    return (datetime.strptime(end, fmt) - datetime.strptime(start, fmt)).total_seconds()


def status_dict(run: Run) -> dict[str, Any]:
    return {
        "requestId": run.run_id,
        "status": str(run.status),
        "stage": run.stage,
        "offer": run.offer,
        "target": run.target,
        "productId": run.product_id,
        "submissionId": run.submission_id,
        "partnerCenterState": run.pc_status,
        "reason": run.reason,
        "lastError": run.last_error,
        "deadLetter": run.dead_letter,
        "changedModules": run.changed_modules,
        "packages": run.packages,
        "createdAt": run.created_at,
        "updatedAt": run.updated_at,
        "nextCheckAt": run.next_check_at,
        "labels": run.labels,
        "callsMade": sum(s.calls for s in run.timeline),
        "timeline": [
            {
                "stage": s.stage,
                "started": s.started,
                "ended": s.ended,
                "seconds": _seconds(s.started, s.ended),
                "calls": s.calls,
                "result": s.result,
            }
            for s in run.timeline
        ],
    }


def format_status(run: Run) -> str:
    data = status_dict(run)
    lines = [
        f"{data['requestId']}: {data['status']} at {data['stage']}"
        f" (offer {data['offer'] or '?'}, target {data['target'] or '?'})"
    ]
    if data["submissionId"]:
        lines.append(f"  submission {data['submissionId']}: {data['partnerCenterState']}")
    if data["reason"]:
        lines.append(f"  reason: {data['reason']}")
    if data["deadLetter"]:
        lines.append(f"  dead-lettered: {data['deadLetter']} (pcpub poison redrive)")
    elif data["lastError"]:
        lines.append(f"  last error: {data['lastError']}")
    if data["changedModules"]:
        lines.append(f"  changed modules: {', '.join(data['changedModules'])}")
    for step in data["timeline"]:
        took = f"{step['seconds']:.2f}s" if step["seconds"] is not None else "running"
        lines.append(
            f"  {step['stage']:<15} {took:>9}  {step['calls']:>3} calls  {step['result'] or ''}"
        )
    lines.append(f"  Partner Center calls: {data['callsMade']}")
    return "\n".join(lines)


def poison_messages(storage: Storage) -> list[dict[str, Any]]:
    """Dead letters (recorded by the app from the poison queues) not yet re-driven, and any
    message still sitting in a poison queue (peeked, not removed)."""
    found = [
        {
            "source": "dead-letter",
            "id": d["RowKey"],
            "queue": d.get("queue"),
            "runId": d.get("run_id"),
            "stage": d.get("stage"),
            "reason": d.get("reason"),
            "dequeueCount": d.get("dequeue_count"),
            "at": d.get("at"),
            "body": d.get("body"),
        }
        for d in storage.ledger.dead_letters()
        if not d.get("redriven")
    ]
    for name in TRIGGERED_QUEUES:
        client = storage.queue(poison_queue(name))
        try:
            for message in client.peek_messages(max_messages=32):
                body = message.content
                text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
                found.append(
                    {
                        "source": "poison-queue",
                        "queue": poison_queue(name),
                        "id": message.id,
                        "at": str(message.inserted_on),
                        "body": text,
                    }
                )
        except ResourceNotFoundError:
            continue  # a queue that does not exist yet holds nothing
    return found


def redrive(storage: Storage) -> int:
    """Send every dead letter (and poison-queue message) back to its queue; clear the runs'
    dead-letter marks. Returns how many were sent."""
    moved = 0
    for letter in storage.ledger.dead_letters():
        if letter.get("redriven"):
            continue
        storage.sender.send(str(letter["queue"]), str(letter["body"]))
        storage.ledger.record_dead_letter(
            letter["RowKey"],
            {
                **{k: v for k, v in letter.items() if k not in ("PartitionKey", "RowKey")},
                "redriven": True,
            },
        )
        run = storage.ledger.get(str(letter.get("run_id") or "")) if letter.get("run_id") else None
        if run is not None and run.dead_letter:
            storage.ledger.replace(run.evolve(dead_letter=None, last_error=None))
        moved += 1
    for name in TRIGGERED_QUEUES:
        client = storage.queue(poison_queue(name))
        try:
            messages = list(client.receive_messages(max_messages=32, visibility_timeout=60))
        except ResourceNotFoundError:
            continue
        for message in messages:
            body = message.content
            storage.sender.send(name, body.decode() if isinstance(body, bytes) else str(body))
            client.delete_message(message)
            moved += 1
    return moved


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2)
