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
from pcpub.host.timeouts import Invocations
from shared.crashpoints import crash_point

log = logging.getLogger("pcpub.host")


class QueueTriggers(QueueOutputs):
    worker: ThreadPoolExecutor  # the instance's worker threads, every invocation's
    lease_seconds: float
    _stop: threading.Event
    _lock: threading.Lock
    _running: set[Future[None]]  # queue invocations submitted, not yet done
    _leases: Leases  # the messages received, out of sight until settled
    _invocations: Invocations  # those running, on the clock of functionTimeout

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
                self._leases.hold(client, connection, message)
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
        if not self._leases.holds(message):  # failed by a worker restart before it started
            return
        dequeue_count = message.dequeue_count or 1
        if dequeue_count > settings.max_dequeue_count:  # a crash ate earlier attempts
            if self._leases.settle(message):
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
            if self._leases.settle(message):
                self._poison(client, connection, queue_name, message, undecodable=True)
            return
        started = time.monotonic()
        ok = self._invoke_with(spec, connection, message, body)
        if ok is None:
            return  # its worker was restarted meanwhile, which failed its message
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
        if not self._leases.settle(message):
            return  # a worker restart failed it as this invocation ended
        if ok:
            crash_point("before_delete")
            client.delete_message(message.id, message.pop_receipt)
        else:
            self._fail(client, connection, queue_name, message)

    def _fail(
        self, client: QueueClient, connection: str, queue_name: str, message: QueueMessage
    ) -> None:
        """A failed invocation's message: poisoned once dequeued maxDequeueCount times, else
        visible again after visibilityTimeout."""
        settings = self.queue_settings
        if (message.dequeue_count or 1) >= settings.max_dequeue_count:
            self._poison(client, connection, queue_name, message)
        else:
            client.update_message(
                message.id, message.pop_receipt, visibility_timeout=int(settings.visibility_timeout)
            )

    def _invoke_with(
        self, spec: FunctionSpec, connection: str, message: QueueMessage, body: bytes
    ) -> bool | None:
        """Run the function, then send its outputs: whether it succeeded, or None when its
        worker was restarted while it ran (then nothing it left is sent)."""
        invocation = self._invocations.begin(spec.name)
        try:
            outputs = self._call(spec, message, body)
        except Exception:
            if self._invocations.end(invocation):
                self._failed(spec, message)
                return False
            return None
        if not self._invocations.end(invocation):
            return None
        try:
            self._send_outputs(spec, outputs, connection)
        except Exception:
            self._failed(spec, message)
            return False
        return True

    def _failed(self, spec: FunctionSpec, message: QueueMessage) -> None:
        log.exception(
            "function %s failed",
            spec.name,
            extra={
                "action": "function_failed",
                "function": spec.name,
                "dequeue_count": message.dequeue_count,
            },
        )

    def _call(self, spec: FunctionSpec, message: QueueMessage, body: bytes) -> dict[str, Out]:
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
        return outputs
