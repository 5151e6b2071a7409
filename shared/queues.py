"""Queue names and the one message encoding every producer and consumer uses.

host.json sets `messageEncoding: base64`, so every message is sent base64-encoded; the Python
SDK sends plain text unless told otherwise, which the Functions host would poison unread.
Pipeline messages never expire (time_to_live=-1): a run waiting on a human must not vanish.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from shared import handoff
from shared.messages import Stage

if TYPE_CHECKING:  # the SDK loads on first send, not at import (cold start)
    from azure.storage.queue import QueueClient

PUBLISH_REQUESTS = "pc-publish-requests"
EVENTS = "pc-events"
NOTIFY = "pc-notify"  # events on their way to the configured sinks (shared.notify_delivery)

# The queue that carries a run into each queue-triggered stage.
STAGE_QUEUES: dict[Stage, str] = {
    Stage.RESOLVE: "pc-resolve",
    Stage.PLAN: "pc-plan",
    Stage.EXPORT: "pc-export",
    Stage.UPLOAD_PACKAGE: "pc-upload-package",
    Stage.UPDATE_DRAFT: "pc-update-draft",
    Stage.SUBMIT_PREVIEW: "pc-submit-preview",
    Stage.PROMOTE: "pc-promote",
    Stage.COMPLETE: "pc-complete",
}

# A waiting run's check that is due, put there by the poller's tick: checks run as queue work
# on any instance, and each hands its run on the moment it is done (shared.pipeline.checks).
CHECKS = "pc-check"

ALL_QUEUES = (PUBLISH_REQUESTS, *STAGE_QUEUES.values(), CHECKS, EVENTS, NOTIFY)
# Queues a function of ours is triggered by: the ones that can have poison messages.
TRIGGERED_QUEUES = (PUBLISH_REQUESTS, *STAGE_QUEUES.values(), CHECKS, NOTIFY)
MAX_VISIBILITY_SECONDS = 7 * 24 * 3600 - 60


def poison_queue(name: str) -> str:
    return f"{name}-poison"


ClientFactory = Callable[[str], "QueueClient"]


class QueueSender:
    """Sends base64-encoded messages to named queues, creating each queue on first use."""

    def __init__(self, client_for: ClientFactory) -> None:
        self._client_for = client_for
        self._clients: dict[str, QueueClient] = {}
        self._created: set[str] = set()

    def client(self, name: str) -> QueueClient:
        if name not in self._clients:
            self._clients[name] = self._client_for(name)
        return self._clients[name]

    def prepare(self, names: Iterable[str]) -> None:
        """Make sure the queues exist (an instance's warmup does, before work arrives: a
        batch's first stages would otherwise each send a create call of their own, at once)."""
        from azure.core.exceptions import ResourceExistsError

        for name in names:
            with contextlib.suppress(ResourceExistsError):
                self.client(name).create_queue()
            self._created.add(name)

    def send(self, name: str, body: str, *, delay_seconds: float = 0, ttl: int = -1) -> None:
        if delay_seconds <= 0 and handoff.offer(name, body):
            return  # the function's output binding sends it (and wakes that queue's listener)
        client = self.client(name)
        if name not in self._created:
            self.prepare((name,))
        delay = int(min(max(delay_seconds, 0), MAX_VISIBILITY_SECONDS))
        client.send_message(body, visibility_timeout=delay or None, time_to_live=ttl)


def queue_client_kwargs() -> dict[str, Any]:
    """SDK options that make the Python SDK speak the Functions host's encoding."""
    from azure.storage.queue import BinaryBase64DecodePolicy, TextBase64EncodePolicy

    return {
        "message_encode_policy": TextBase64EncodePolicy(),
        "message_decode_policy": BinaryBase64DecodePolicy(),
    }
