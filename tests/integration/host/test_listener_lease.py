"""The timer's listener lease when storage goes away: an instance that stops lets go at once
(the lease lapses on its own), and a blink shorter than the lease does not hand the timer to
a second instance while the first still runs it; an outage longer than the lease stops the
timer here before the lease lapses, so that no two instances run it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from pcpub.host.singleton import LEASE_SECONDS, ListenerLease
from tests.integration.host.conftest import OwnAzurite


@pytest.fixture
def thread_errors() -> Iterator[list[BaseException | None]]:
    """What threads raised while the test ran (pytest would only warn of it later)."""
    seen: list[BaseException | None] = []
    before = threading.excepthook
    threading.excepthook = lambda args: seen.append(args.exc_value)
    yield seen
    threading.excepthook = before


def test_an_instance_stops_at_once_when_storage_is_gone(
    own_azurite: OwnAzurite,
    thread_errors: list[BaseException | None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    stop = threading.Event()
    lease = ListenerLease(own_azurite.ports.connection_string, "lease-test", "tick", stop)
    assert lease.hold()
    own_azurite.stop()
    started = time.monotonic()
    stop.set()
    lease.join(LEASE_SECONDS)
    assert time.monotonic() - started < 5  # the SDK's backoff took 86 s here
    assert thread_errors == []
    assert "could not release the listener lease for tick" in caplog.text


def test_a_storage_blink_shorter_than_the_lease_keeps_the_timer_on_one_instance(
    own_azurite: OwnAzurite,
) -> None:
    connection = own_azurite.ports.connection_string
    stop = threading.Event()
    first = ListenerLease(connection, "lease-test", "tick", stop)
    assert first.hold()
    taken = time.monotonic()
    own_azurite.stop()  # down across the first renewal, back before the lease would lapse
    time.sleep(LEASE_SECONDS / 3 + 0.5)  # the renewal then, 5 s on, finds it down
    own_azurite.start()
    try:
        time.sleep(max(0.0, taken + LEASE_SECONDS + 2 - time.monotonic()))
        second = ListenerLease(connection, "lease-test", "tick", threading.Event())
        assert not second.hold()  # the first renewed once storage was back
        assert first.hold()
    finally:
        stop.set()
        first.join(LEASE_SECONDS)


def test_storage_away_longer_than_the_lease_stops_the_timer_here_before_it_lapses(
    own_azurite: OwnAzurite, caplog: pytest.LogCaptureFixture
) -> None:
    """Another instance may take the lease the moment it lapses: this one must have stopped
    believing it holds it by then, or the timer would run on both."""
    stop = threading.Event()
    lease = ListenerLease(own_azurite.ports.connection_string, "lease-test", "tick", stop)
    assert lease.hold()
    taken = time.monotonic()
    own_azurite.stop()
    try:
        time.sleep(max(0.0, taken + LEASE_SECONDS - 1 - time.monotonic()))
        assert not lease.hold()  # given up, and storage cannot give it back yet
        assert "lost the listener lease for tick" in caplog.text
    finally:
        stop.set()
        lease.join(LEASE_SECONDS)
