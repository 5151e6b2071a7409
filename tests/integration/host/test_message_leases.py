"""The local host's message leases when storage blinks: a renewal storage does not answer is
tried again, so a held message stays out of sight and its invocation can still delete it;
storage's word that the message is gone ends the hold."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from azure.storage.queue import QueueClient, QueueMessage

from pcpub.azurite import AzuritePorts
from pcpub.host.leases import Leases
from shared.storage import transport_options
from tests.integration.host.conftest import OwnAzurite

LEASE = 4.0  # renewed 2 s on, then every 2 s


def _queue(ports: AzuritePorts) -> QueueClient:
    return QueueClient.from_connection_string(
        ports.connection_string, "leases", **transport_options()
    )


def _held(client: QueueClient, leases: Leases) -> QueueMessage:
    """A message sent (to a new queue) and received for LEASE seconds, held by `leases`."""
    client.create_queue()
    client.send_message("work")
    [message] = list(client.receive_messages(max_messages=1, visibility_timeout=int(LEASE)))
    leases.hold(client, "AzureWebJobsStorage", message)
    return message


@pytest.fixture
def leases() -> Iterator[Leases]:
    stop = threading.Event()
    held = Leases(LEASE, stop)
    renewer = threading.Thread(target=held.renew, daemon=True)
    renewer.start()
    yield held
    stop.set()
    renewer.join(5)


def test_a_storage_blink_does_not_cost_a_held_message_its_lease(
    own_azurite: OwnAzurite, leases: Leases
) -> None:
    client = _queue(own_azurite.ports)
    message = _held(client, leases)
    taken = time.monotonic()
    own_azurite.stop()  # down across the renewal due 2 s on; back before the lease ends
    time.sleep(LEASE / 2 + 0.5)
    own_azurite.start()
    back = time.monotonic()  # a renewal has had a lease's time since storage came back
    time.sleep(max(0.0, max(taken + 2 * LEASE, back + LEASE) - time.monotonic()))
    assert leases.holds(message)
    # Two leases on, the message is still out of sight: no second delivery.
    other = _queue(own_azurite.ports)
    assert list(other.receive_messages(max_messages=1, visibility_timeout=1)) == []
    assert leases.settle(message)
    client.delete_message(message.id, message.pop_receipt)  # the last renewal's receipt


def test_a_message_storage_says_is_gone_is_held_no_more(
    own_azurite: OwnAzurite, leases: Leases
) -> None:
    client = _queue(own_azurite.ports)
    message = _held(client, leases)
    client.delete_message(message.id, message.pop_receipt)  # settled elsewhere
    deadline = time.monotonic() + LEASE
    while leases.holds(message) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not leases.holds(message)
    assert not leases.settle(message)
