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
