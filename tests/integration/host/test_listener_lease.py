"""The timer's listener lease when storage goes away: an instance that stops lets go at once
(the lease lapses on its own), and a blink shorter than the lease does not hand the timer to
a second instance while the first still runs it; an outage longer than the lease stops the
timer here before the lease lapses, so that no two instances run it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pcpub.azurite import AzuritePorts, start_azurite
from pcpub.host.singleton import LEASE_SECONDS, ListenerLease
from pcpub.processes import Managed


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[tuple[Managed, AzuritePorts]]:
    proc, ports = start_azurite(tmp_path, persist=True)
    yield proc, ports
    proc.stop()


@pytest.fixture
def thread_errors() -> Iterator[list[BaseException | None]]:
    """What threads raised while the test ran (pytest would only warn of it later)."""
    seen: list[BaseException | None] = []
    before = threading.excepthook
    threading.excepthook = lambda args: seen.append(args.exc_value)
    yield seen
    threading.excepthook = before


def test_an_instance_stops_at_once_when_storage_is_gone(
    storage: tuple[Managed, AzuritePorts],
    thread_errors: list[BaseException | None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    proc, ports = storage
    stop = threading.Event()
    lease = ListenerLease(ports.connection_string, "lease-test", "tick", stop)
    assert lease.hold()
    proc.stop()
    started = time.monotonic()
    stop.set()
    lease.join(LEASE_SECONDS)
    assert time.monotonic() - started < 5  # the SDK's backoff took 86 s here
    assert thread_errors == []
    assert "could not release the listener lease for tick" in caplog.text


def test_a_storage_blink_shorter_than_the_lease_keeps_the_timer_on_one_instance(
    tmp_path: Path, storage: tuple[Managed, AzuritePorts]
) -> None:
    proc, ports = storage
    stop = threading.Event()
    first = ListenerLease(ports.connection_string, "lease-test", "tick", stop)
    assert first.hold()
    taken = time.monotonic()
    proc.stop()  # down across the first renewal, back before the lease would lapse
    time.sleep(LEASE_SECONDS / 3 + 0.5)  # the renewal then, 5 s on, finds it down
    proc, _ = start_azurite(tmp_path, ports=ports, persist=True)
    try:
        time.sleep(max(0.0, taken + LEASE_SECONDS + 2 - time.monotonic()))
        second = ListenerLease(ports.connection_string, "lease-test", "tick", threading.Event())
        assert not second.hold()  # the first renewed once storage was back
        assert first.hold()
    finally:
        stop.set()
        first.join(LEASE_SECONDS)
        proc.stop()


def test_storage_away_longer_than_the_lease_stops_the_timer_here_before_it_lapses(
    storage: tuple[Managed, AzuritePorts], caplog: pytest.LogCaptureFixture
) -> None:
    """Another instance may take the lease the moment it lapses: this one must have stopped
    believing it holds it by then, or the timer would run on both."""
    proc, ports = storage
    stop = threading.Event()
    lease = ListenerLease(ports.connection_string, "lease-test", "tick", stop)
    assert lease.hold()
    taken = time.monotonic()
    proc.stop()
    try:
        time.sleep(max(0.0, taken + LEASE_SECONDS - 1 - time.monotonic()))
        assert not lease.hold()  # given up, and storage cannot give it back yet
        assert "lost the listener lease for tick" in caplog.text
    finally:
        stop.set()
        lease.join(LEASE_SECONDS)
