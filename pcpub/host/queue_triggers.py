"""The host's queue triggers, as the queue extension runs them: a listener per function that
leases a batch, starts each message on the instance's worker threads, and reads again once
no more than newBatchThreshold still run; then the message deleted, retried after
visibilityTimeout, or poisoned."""

from __future__ import annotations

import binascii
import logging
import random
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

from azure.functions.queue import QueueMessage as TriggerMessage
from azure.storage.queue import QueueClient, QueueMessage

from pcpub.host.indexing import FunctionSpec, Out, resolve_setting
from pcpub.host.leases import Leases
from pcpub.host.queue_outputs import QueueOutputs
from shared.crashpoints import crash_point

log = logging.getLogger("pcpub.host")


class QueueTriggers(QueueOutputs):
    worker: ThreadPoolExecutor  # the instance's worker threads, every invocation's
    lease_seconds: float
    _stop: threading.Event
    _lock: threading.Lock
    _running: set[Future[None]]  # queue invocations submitted, not yet done
    _leases: Leases  # the messages received, out of sight until settled

    def _listen_queue(self, spec: FunctionSpec) -> None:
        """The queue extension's listener: read a batch, start each message, and read again
        once no more than newBatchThreshold of them are still running (at once, without a
        poll's delay); an empty read backs off up to maxPollingInterval. A message is leased
        only when it can start (another instance may take what this one cannot)."""
        trigger = spec.trigger
        queue_name = resolve_setting(trigger["queueName"], self.env)
        connection = trigger.get("connection") or "AzureWebJobsStorage"
        client = self.queue(connection, queue_name)
        settings = self.queue_settings
        running = threading.Condition()
        in_flight = [0]  # this listener's messages started and not yet done
        with self._wakers_lock:
            wake = self._wakers.setdefault(queue_name, threading.Event())
        delay = 0.1
        while not self._stop.is_set():
            with running:
                while in_flight[0] > settings.threshold and not self._stop.is_set():
                    running.wait(0.5)
            room = min(settings.batch_size, 32)
            try:
                batch = list(
                    client.receive_messages(
                        messages_per_page=room,
                        max_messages=room,
                        visibility_timeout=int(self.lease_seconds),
                    )
                )
            except Exception:
                log.exception("receive failed on %s", queue_name)
                batch = []
            for message in batch:

                def work(m: QueueMessage = message) -> None:
                    try:
                        self._process(spec, client, connection, queue_name, m)
                    finally:
                        with running:
                            in_flight[0] -= 1
                            running.notify()

                with running:
                    in_flight[0] += 1
                self._leases.hold(client, message)
                try:
                    invocation = self.worker.submit(work)
                except RuntimeError:  # stopping: the message goes back when its lease ends
                    return
                with self._lock:
                    self._running.add(invocation)
                invocation.add_done_callback(self._ran)
            if batch:
                delay = 0.1
                continue
            # The host's randomized exponential back-off while idle.
            delay = min(settings.max_polling_interval, delay * 2 + random.uniform(0, 0.1))
            if wake.wait(delay):  # a message this host wrote: poll again at once
                wake.clear()
                delay = 0.1

    def _ran(self, invocation: Future[None]) -> None:
        with self._lock:
            self._running.discard(invocation)

    def _process(
        self,
        spec: FunctionSpec,
        client: QueueClient,
        connection: str,
        queue_name: str,
        message: QueueMessage,
    ) -> None:
        settings = self.queue_settings
        dequeue_count = message.dequeue_count or 1
        if dequeue_count > settings.max_dequeue_count:  # a crash ate earlier attempts
            self._poison(client, connection, queue_name, message)
            return
        try:
            body = settings.decode(message.content)
        except (binascii.Error, ValueError):
            log.warning(
                "Message decoding has failed! Check MessageEncoding settings (%s). MessageId=%s.",
                settings.message_encoding,
                message.id,
                extra={"action": "binding_failed", "function": spec.name, "queue": queue_name},
            )
            self._poison(client, connection, queue_name, message, undecodable=True)
            return
        ok = False
        started = time.monotonic()
        try:
            self._call(spec, connection, message, body)
            ok = True
        except Exception:
            log.exception(
                "function %s failed",
                spec.name,
                extra={
                    "action": "function_failed",
                    "function": spec.name,
                    "dequeue_count": message.dequeue_count,
                },
            )
        self.stats.count(spec.name, ok)
        log.info(
            "Executed 'Functions.%s' (%s, Id=%s, Duration=%dms)",
            spec.name,
            "Succeeded" if ok else "Failed",
            message.id,
            (time.monotonic() - started) * 1000,
            extra={
                "action": "function_executed",
                "function": spec.name,
                "succeeded": ok,
                "dequeue_count": message.dequeue_count,
            },
        )
        if ok:
            crash_point("before_delete")
            self._leases.settle(message)
            client.delete_message(message.id, message.pop_receipt)
        elif dequeue_count >= settings.max_dequeue_count:
            self._poison(client, connection, queue_name, message)
        else:
            self._leases.settle(message)
            client.update_message(
                message.id, message.pop_receipt, visibility_timeout=int(settings.visibility_timeout)
            )

    def _call(
        self, spec: FunctionSpec, connection: str, message: QueueMessage, body: bytes
    ) -> None:
        trigger_msg = TriggerMessage(  # type: ignore[no-untyped-call]
            id=message.id,
            body=body,
            dequeue_count=message.dequeue_count,
            expiration_time=message.expires_on,
            insertion_time=message.inserted_on,
            time_next_visible=message.next_visible_on,
            pop_receipt=message.pop_receipt,
        )
        outputs = {b["name"]: Out() for b in spec.outputs}
        spec.call(**{spec.trigger["name"]: trigger_msg}, **outputs)
        self._send_outputs(spec, outputs, connection)
