"""Delivering events to the configured sinks, apart from the pipeline.

`fan_out` (called when an event is emitted) queues one delivery per sink whose filter wants
the event on `pc-notify`; the `notify` function posts each. A failed post is queued again
with a growing delay (15 s doubling, up to an hour), and after `MAX_ATTEMPTS` it is recorded
as a dead letter (`pcpub poison list`, `pcpub poison redrive`). A dead sink therefore costs the
pipeline one queue message per event and never slows a stage; a post never takes more than
`DEADLINE` seconds in all (`Poster`). Sink URLs and keys come from Key Vault and are never
logged.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from pydantic import ValidationError

from shared.ledger import Ledger
from shared.messages import Event
from shared.notifications import Delivery, Sink, teams, webhook
from shared.queues import NOTIFY, QueueSender

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
DEADLINE = 10.0  # a post's whole time, from connecting to the answer's status line
ANSWER_BYTES = 64 * 1024  # the most of an answer read to keep its connection
Post = Callable[[str, bytes, Mapping[str, str], float], int]


class Poster:
    """POSTs to sinks from one event loop on a thread of its own, over one client whose
    connections are kept alive: a release sends many events to the same few sinks, and a new
    loop and TLS handshake for each post was most of its time.

    A post is bounded as a whole (`deadline`, from connecting to the answer's status line):
    httpx's timeouts bound each read, not the exchange, so a receiver that sends a byte a
    second would otherwise hold the invocation for ever, and, past functionTimeout, the worker
    with every invocation on it. The answer's body is read, up to `ANSWER_BYTES` and within
    what is left of the deadline, only so its connection can be used again; a longer or slower
    one is dropped with its connection, and the post still counts by its status."""

    def __init__(self, verify: ssl.SSLContext | bool) -> None:
        self._verify = verify
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: httpx.AsyncClient | None = None

    def __call__(self, url: str, body: bytes, headers: Mapping[str, str], deadline: float) -> int:
        """The answer's status, within `deadline` seconds (TimeoutError past it)."""
        posted = asyncio.run_coroutine_threadsafe(
            self._post(url, body, headers, deadline), self._running()
        )
        try:
            return posted.result(deadline + 1.0)  # the post bounds itself; this, a stuck loop
        except TimeoutError:
            posted.cancel()
            raise

    def _running(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                threading.Thread(
                    target=self._loop.run_forever, name="notify-posts", daemon=True
                ).start()
            return self._loop

    async def _post(
        self, url: str, body: bytes, headers: Mapping[str, str], deadline: float
    ) -> int:
        if self._client is None:  # made on the loop that uses it
            self._client = httpx.AsyncClient(verify=self._verify)
        end = asyncio.get_running_loop().time() + deadline
        request = self._client.build_request(
            "POST", url, content=body, headers=headers, timeout=deadline
        )
        async with asyncio.timeout_at(end):
            answer = await self._client.send(request, stream=True)
        try:
            async with asyncio.timeout_at(end):
                read = 0
                async for chunk in answer.aiter_raw():
                    read += len(chunk)
                    if read > ANSWER_BYTES:
                        break
        except (TimeoutError, httpx.HTTPError):
            pass  # answered: only the connection is lost
        finally:
            await answer.aclose()
        return answer.status_code


class Notifier:
    def __init__(
        self,
        sinks: tuple[Sink, ...],
        queues: QueueSender,
        ledger: Ledger,
        secret: Callable[[str], str],
        post: Post,
        clock: Callable[[], float] = time.time,
        first_delay: float = 15.0,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.sinks = {s.name: s for s in sinks}
        self._queues = queues
        self._ledger = ledger
        self._secret = secret
        self._send = post
        self.deadline = DEADLINE
        self._clock = clock
        self.first_delay = first_delay
        self.max_attempts = max_attempts

    def fan_out(self, event: Event) -> None:
        for sink in self.sinks.values():
            if sink.wants(event):
                self._queues.send(NOTIFY, Delivery(sink=sink.name, event=event).to_json())

    def deliver(self, body: str | bytes, message_id: str) -> None:
        """Post one delivery; on failure queue it again later, or dead-letter it."""
        try:
            delivery = Delivery.model_validate_json(body)
        except ValidationError as exc:
            self._dead(message_id, body, "unreadable delivery", str(exc.errors()[0]["msg"]))
            return
        sink = self.sinks.get(delivery.sink)
        if sink is None:
            self._dead(message_id, body, delivery.sink, "no such sink in PC_NOTIFY_SINKS")
            return
        problem = self._post(sink, delivery.event)
        if problem is None:
            log.info(
                "event %s delivered to %s",
                delivery.event.kind,
                sink.name,
                extra={
                    "action": "notified",
                    "sink": sink.name,
                    "requestId": delivery.event.request_id,
                },
            )
            return
        attempt = delivery.attempt + 1
        if attempt >= self.max_attempts:
            again = delivery.model_copy(update={"attempt": 0}).to_json()
            self._dead(message_id, again, sink.name, f"gave up after {attempt} tries: {problem}")
            return
        delay = min(3600.0, self.first_delay * 2 ** (attempt - 1))
        log.warning(
            "could not notify %s (%s); trying again in %.0f s",
            sink.name,
            problem,
            delay,
            extra={"action": "notify_failed", "sink": sink.name},
        )
        retry = delivery.model_copy(update={"attempt": attempt}).to_json()
        self._queues.send(NOTIFY, retry, delay_seconds=delay)

    def _post(self, sink: Sink, event: Event) -> str | None:
        """None when the sink took the event; otherwise why not (never its URL)."""
        try:
            url = self._secret(sink.url_secret)
            if sink.kind == "webhook":
                assert sink.signing_secret
                body, headers = webhook(
                    event, self._secret(sink.signing_secret), int(self._clock())
                )
            else:
                body, headers = teams(event)
            status = self._send(url, body, headers, self.deadline)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}"
        except TimeoutError:
            return f"no answer within {self.deadline:g} s"
        except Exception as exc:  # the vault, a bad URL: the same retries, named
            return f"{type(exc).__name__}: {str(exc)[:200]}"
        if 200 <= status < 300:
            return None
        return f"{sink.kind} answered {status}"

    def _dead(self, message_id: str, body: str | bytes, sink: str, reason: str) -> None:
        text = body.decode(errors="replace") if isinstance(body, bytes) else body
        fields: dict[str, Any] = {
            "queue": NOTIFY,
            "reason": f"notification to {sink}: {reason}",
            "content": base64.b64encode(text.encode()).decode(),  # as the queue holds it
        }
        self._ledger.record_dead_letter(f"notify-{message_id}", fields)
        log.error(fields["reason"], extra={"action": "notify_dead_lettered", "sink": sink})
