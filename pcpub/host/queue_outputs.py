"""What the host does with a queue function's messages once it has run: the output bindings'
messages sent, each waking this host's listener of its queue (the host's shared queue
watcher), and a message that failed too often copied to `<queue>-poison`."""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor

from azure.storage.queue import QueueClient, QueueMessage

from pcpub.host.indexing import FunctionSpec, HostStats, Out, resolve_setting
from pcpub.host.settings import QueueSettings

log = logging.getLogger("pcpub.host")
OUTPUT_SENDERS = 8  # an invocation's output messages written side by side, at most this many


class QueueOutputs(ABC):
    env: dict[str, str]
    stats: HostStats
    queue_settings: QueueSettings
    _wakers: dict[str, threading.Event]  # queue name -> its listener's wake-up
    _wakers_lock: threading.Lock

    @abstractmethod
    def queue(self, connection: str, name: str) -> QueueClient: ...

    def _send_outputs(self, spec: FunctionSpec, outputs: dict[str, Out], connection: str) -> None:
        """After the function returned normally: send what its queue output bindings hold, and
        wake this host's listener of each such queue as each message is written (the host's
        shared queue watcher: a message this instance wrote is picked up at once, not at the
        next idle poll). Many messages (a poller tick's checks) go out side by side, as the
        Functions host writes them asynchronously: one after another, the last of a hundred
        left seconds after the first under load."""
        for binding in spec.outputs:
            messages = outputs[binding["name"]].messages()
            if not messages:
                continue
            name = resolve_setting(binding["queueName"], self.env)
            out_queue = self.queue(binding.get("connection") or connection, name)

            def send(message: str, out_queue: QueueClient = out_queue, name: str = name) -> None:
                out_queue.send_message(self.queue_settings.encode(message))
                self._wake(name)

            if len(messages) == 1:
                send(messages[0])
                continue
            with ThreadPoolExecutor(max_workers=min(OUTPUT_SENDERS, len(messages))) as pool:
                list(pool.map(send, messages))

    def _wake(self, queue_name: str) -> None:
        with self._wakers_lock:
            event = self._wakers.setdefault(queue_name, threading.Event())
        event.set()

    def _poison(
        self,
        client: QueueClient,
        connection: str,
        queue_name: str,
        message: QueueMessage,
        *,
        undecodable: bool = False,
    ) -> None:
        """Copy to `<queue>-poison` as it was (a new message with the default TTL), then
        delete: after maxDequeueCount failures, or at once for a body that does not decode
        (the caller settled its lease)."""
        poison = self.queue(connection, f"{queue_name}-poison")
        poison.send_message(message.content)
        client.delete_message(message.id, message.pop_receipt)
        self.stats.poisoned += 1
        why = (
            "It cannot be decoded."
            if undecodable
            else f"Message has reached MaxDequeueCount of {self.queue_settings.max_dequeue_count}."
        )
        log.warning(
            "%s Moving message to queue '%s-poison'.",
            why,
            queue_name,
            extra={"action": "message_poisoned", "queue": queue_name},
        )
