"""Notifications on real parts: sink URLs and keys from the Key Vault stand-in, deliveries on
Azurite's pc-notify queue, HTTPS receivers on loopback checking signatures and card shape,
retries with a growing delay, then a dead letter; the URL's token never logged."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError

from pcpub.azurite import AzuritePorts
from pcpub.stack import app_settings
from pcsim.admin import SimulatorClient
from shared.messages import Event, EventKind
from shared.notifications import SIGNATURE, TIMESTAMP
from shared.notify_delivery import ANSWER_BYTES
from shared.pipeline.effects import Pipeline
from shared.pipeline.events import publish
from shared.queues import NOTIFY
from shared.settings import Settings
from shared.wiring import build_pipeline
from tests.receivers import Receiver

KEY = "webhook-signing-key-0123456789"
SINKS = [
    {"name": "hook", "kind": "webhook", "urlSecret": "hook-url", "signingSecret": "hook-key"},
    {"name": "channel", "kind": "teams", "urlSecret": "teams-url", "kinds": ["failed"]},
]


@pytest.fixture
def receivers(sim_config: dict[str, Any]) -> Iterator[tuple[Receiver, Receiver]]:
    hook, channel = Receiver(sim_config["caCertPath"]), Receiver(sim_config["caCertPath"])
    yield hook, channel
    hook.close()
    channel.close()


@pytest.fixture
def notifying(
    sim_config: dict[str, Any],
    azurite: AzuritePorts,
    admin: SimulatorClient,
    receivers: tuple[Receiver, Receiver],
) -> Pipeline:
    hook, channel = receivers
    admin.put_secret("hook-url", hook.url, rotate_app=False)
    admin.put_secret("hook-key", KEY, rotate_app=False)
    admin.put_secret("teams-url", channel.url, rotate_app=False)
    env = {
        **app_settings(sim_config, azurite.connection_string),
        "PC_NOTIFY_SINKS": json.dumps(SINKS),
    }
    built = build_pipeline(Settings.from_env(env))
    with contextlib.suppress(ResourceNotFoundError):
        built.queues.client(NOTIFY).clear_messages()
    return built


def event(kind: EventKind) -> Event:
    return Event(
        kind=kind,
        request_id="req-notify-1",
        offer="offer:contoso",
        stage="await_preview",
        product_id="prod-1",
        reason="certification failed",
        at="2026-11-25T10:00:00.000000Z",
    )


def drain(pipeline: Pipeline, seconds: float = 0.0) -> int:
    """Deliver what pc-notify holds now (and what comes due within `seconds`)."""
    assert pipeline.notifier is not None
    client, done, deadline = pipeline.queues.client(NOTIFY), 0, time.monotonic() + seconds
    while True:
        messages = list(client.receive_messages(max_messages=32, visibility_timeout=30))
        for message in messages:
            pipeline.notifier.deliver(message.content, message.id)
            client.delete_message(message)
            done += 1
        if not messages and time.monotonic() >= deadline:
            return done
        time.sleep(0.2)


def test_each_sink_gets_what_its_filter_wants_signed_and_shaped(
    notifying: Pipeline, receivers: tuple[Receiver, Receiver], caplog: pytest.LogCaptureFixture
) -> None:
    hook, channel = receivers
    caplog.set_level(logging.DEBUG)
    publish(notifying, event(EventKind.SUCCEEDED))  # the hook wants it, the channel does not
    publish(notifying, event(EventKind.FAILED))  # both
    assert drain(notifying) == 3
    assert [json.loads(g["body"])["kind"] for g in hook.got] == ["succeeded", "failed"]
    for got in hook.got:
        headers = {k.lower(): v for k, v in got["headers"].items()}
        signed = headers[TIMESTAMP.lower()].encode() + b"." + got["body"]
        expected = "v1=" + hmac.new(KEY.encode(), signed, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers[SIGNATURE.lower()], expected)
    [card] = channel.got
    content = json.loads(card["body"])["attachments"][0]["content"]
    assert content["type"] == "AdaptiveCard"
    assert "token-in-url" not in caplog.text  # the URL's token is a secret


def test_a_dead_sink_is_retried_later_then_dead_lettered(
    notifying: Pipeline, receivers: tuple[Receiver, Receiver]
) -> None:
    hook, _ = receivers
    hook.status = 500
    assert notifying.notifier is not None
    notifying.notifier.first_delay, notifying.notifier.max_attempts = 1.0, 3
    publish(notifying, event(EventKind.SUCCEEDED))
    started = time.monotonic()
    assert drain(notifying) == 1  # the first try; the retry waits its delay, out of sight
    assert len(hook.got) == 1
    drain(notifying, seconds=6)
    assert len(hook.got) == 3 and time.monotonic() - started >= 3  # 1 s, then 2 s later
    letters = [d for d in notifying.ledger.dead_letters() if d["queue"] == NOTIFY]
    mine = [d for d in letters if "gave up after 3 tries: webhook answered 500" in d["reason"]]
    assert mine
    again = json.loads(base64.b64decode(mine[-1]["content"]))  # as the queue holds it
    assert again["attempt"] == 0 and again["sink"] == "hook"  # re-driven, it starts afresh


def post_one_with_a_deadline(notifying: Pipeline, seconds: float = 1.5) -> float:
    """Post one event with `seconds` as the post's deadline; how long its delivery took."""
    assert notifying.notifier is not None
    notifying.notifier.deadline = seconds
    publish(notifying, event(EventKind.SUCCEEDED))
    started = time.monotonic()
    assert drain(notifying) == 1
    return time.monotonic() - started


def test_a_receiver_that_trickles_its_answer_is_given_up_on_in_time(
    notifying: Pipeline, receivers: tuple[Receiver, Receiver], caplog: pytest.LogCaptureFixture
) -> None:
    """A receiver that sends its answer a byte every 0.2 s never lets a read time out; the
    post still ends at its deadline (1.5 s here) and is tried again later, so a slow sink
    holds no invocation near functionTimeout (past it, every invocation on the worker ends)."""
    hook, _ = receivers
    hook.trickle = 30.0
    assert post_one_with_a_deadline(notifying) < 5
    assert len(hook.got) == 1
    assert "could not notify hook (no answer within 1.5 s); trying again in 15 s" in caplog.text
    held = notifying.queues.client(NOTIFY).get_queue_properties()
    assert held.approximate_message_count == 1  # the retry, out of sight for its delay


def test_posts_to_a_sink_share_one_kept_alive_connection(
    notifying: Pipeline, receivers: tuple[Receiver, Receiver]
) -> None:
    """A release sends many events to the same few sinks: each post over a new connection (a
    TLS handshake, a new event loop) was most of its time. The answer is read so that its
    connection can carry the next post; one longer than the reader keeps costs its connection."""
    hook, _ = receivers
    hook.answer = b'{"ok": true}' * 100
    for _ in range(3):
        publish(notifying, event(EventKind.SUCCEEDED))
    assert drain(notifying) == 3
    assert len(hook.got) == 3 and hook.connections == 1
    hook.answer = b"x" * (4 * ANSWER_BYTES)
    publish(notifying, event(EventKind.SUCCEEDED))
    assert drain(notifying) == 1
    assert len(hook.got) == 4 and hook.connections == 1
    hook.answer = b""
    publish(notifying, event(EventKind.SUCCEEDED))
    assert drain(notifying) == 1
    assert len(hook.got) == 5 and hook.connections == 2  # the long answer's went with it


def test_an_answer_whose_body_trickles_is_still_delivered_in_time(
    notifying: Pipeline, receivers: tuple[Receiver, Receiver], caplog: pytest.LogCaptureFixture
) -> None:
    """The status came: the sink took the event. A body sent a byte every 0.2 s costs only its
    connection, not a retry (which would post the event twice)."""
    hook, _ = receivers
    hook.body_trickle = 30.0
    caplog.set_level(logging.INFO)
    assert post_one_with_a_deadline(notifying) < 5
    assert len(hook.got) == 1
    assert "event succeeded delivered to hook" in caplog.text
    held = notifying.queues.client(NOTIFY).get_queue_properties()
    assert held.approximate_message_count == 0  # no retry
