"""Notifications end to end: a run through the real queues and the local host, and a signed
webhook and a Teams channel (HTTPS receivers on loopback) hear about every event of it that
their filters want, as the requesting system reads them from the events queue."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator

import pytest

from pcpub.ops import Storage
from pcpub.stack import LocalStack
from pcsim.admin import SimulatorClient
from shared.notifications import SIGNATURE, TIMESTAMP
from tests.conftest import assert_conforms, reference
from tests.e2e.conftest import events_for, publish, wait_terminal
from tests.receivers import Receiver

KEY = "e2e-signing-key"
SINKS = [
    {"name": "hook", "kind": "webhook", "urlSecret": "hook-url", "signingSecret": "hook-key"},
    {"name": "channel", "kind": "teams", "urlSecret": "teams-url", "kinds": ["succeeded"]},
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(
        tmp_path_factory.mktemp("notify"),
        profile="fast",
        lease_seconds=4,
        contract=reference(),
        extra_settings={"PC_NOTIFY_SINKS": json.dumps(SINKS)},
    ) as running:
        yield running
        assert_conforms(running.sim_config)


def test_every_event_of_a_run_reaches_the_sinks_that_want_it(
    stack: LocalStack, storage: Storage, admin: SimulatorClient
) -> None:
    hook, channel = (
        Receiver(stack.sim_config["caCertPath"]),
        Receiver(stack.sim_config["caCertPath"]),
    )
    try:
        admin.put_secret("hook-url", hook.url, rotate_app=False)
        admin.put_secret("hook-key", KEY, rotate_app=False)
        admin.put_secret("teams-url", channel.url, rotate_app=False)
        product = admin.add_offer("told-everyone", ["basic"])["id"]
        publish(storage, "req-told", "told-everyone", "live")
        run = wait_terminal(storage, "req-told")
        assert str(run.status) == "succeeded", run.reason
        read = [e["kind"] for e in events_for(storage, "req-told")]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (len(hook.got) < len(read) or not channel.got):
            time.sleep(0.2)
    finally:
        hook.close()
        channel.close()
    heard = [json.loads(g["body"]) for g in hook.got]
    assert sorted(e["kind"] for e in heard) == sorted(read)  # every event, no other
    assert {e.get("productId") for e in heard} == {None, product}  # known after resolve
    for got in hook.got:
        headers = {k.lower(): v for k, v in got["headers"].items()}
        signed = headers[TIMESTAMP.lower()].encode() + b"." + got["body"]
        expected = "v1=" + hmac.new(KEY.encode(), signed, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers[SIGNATURE.lower()], expected)
    [card] = channel.got  # the channel only wants successes
    content = json.loads(card["body"])["attachments"][0]["content"]
    assert content["body"][0]["text"] == "pc-publisher: succeeded"
    assert content["actions"][0]["url"].endswith(f"/offers/{product}/overview")
