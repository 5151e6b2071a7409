"""The local stack starts again an instance that stopped, as the platform does, and goes on
doing so when a restarted instance dies before it says it is up (a crash point firing on a
redelivered message while it starts): the fault rows' kill-and-restart depends on it."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from pcpub.processes import Managed
from pcpub.stack import LocalStack


def instance(exit_code: int | None) -> Managed:
    return cast(
        Managed, SimpleNamespace(popen=SimpleNamespace(poll=lambda: exit_code), stop=lambda: None)
    )


def test_an_instance_that_dies_while_it_starts_is_started_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = LocalStack(tmp_path)
    stack.hosts = [instance(137)]  # killed
    tries: list[int] = []

    def start_instance(index: int) -> None:
        tries.append(index)
        if len(tries) == 1:  # dies again before it is up
            stack.hosts[index] = instance(137)
            raise RuntimeError("host exited with 137 before the host to start")
        stack.hosts[index] = instance(None)

    monkeypatch.setattr(stack, "_start_instance", start_instance)
    watcher = threading.Thread(target=stack._watch_host, daemon=True)
    watcher.start()
    deadline = time.monotonic() + 5
    while len(tries) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    stack._stopping.set()
    watcher.join(5)
    assert tries == [0, 0]
    assert stack.host_restarts == 2


def test_a_stop_while_an_instance_starts_again_stops_that_instance_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing the watcher starts outlives the stack: the stop waits for the start it is in
    the middle of, stops what it started, and no start follows."""
    stack = LocalStack(tmp_path)
    stack.hosts = [instance(137)]
    stopped: list[str] = []
    started = threading.Event()

    def start_instance(index: int) -> None:
        started.set()
        time.sleep(0.5)  # the instance comes up while the stack is told to stop
        stack.hosts[index] = cast(
            Managed,
            SimpleNamespace(
                popen=SimpleNamespace(poll=lambda: 137), stop=lambda: stopped.append("new")
            ),
        )

    monkeypatch.setattr(stack, "_start_instance", start_instance)
    watcher = threading.Thread(target=stack._watch_host, daemon=True)
    watcher.start()
    assert started.wait(5)
    stack.stop()
    watcher.join(5)
    assert not watcher.is_alive()
    assert stopped == ["new"]  # stopped by the stop; and, dead again, not started again
    assert stack.host_restarts == 1
