"""The local host reads host.json as the Functions host does: keys without regard to case,
app settings `AzureFunctionsJobHost__...` over its values, and functionTimeout."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from pcpub.host.settings import (
    DEFAULT_FUNCTION_TIMEOUT,
    read_function_timeout,
    read_host_json,
)
from pcpub.host.timeouts import Invocation, Invocations, timespan


def host_json(tmp_path: Path, **data: object) -> Path:
    path = tmp_path / "host.json"
    path.write_text(json.dumps({"version": "2.0", **data}))
    return path


def test_app_settings_override_host_json_whatever_their_case(tmp_path: Path) -> None:
    path = host_json(
        tmp_path,
        functionTimeout="00:10:00",
        extensions={"queues": {"batchSize": 32, "maxDequeueCount": 5}},
    )
    env = {
        "AzureFunctionsJobHost__functionTimeout": "00:00:03",
        "AzureFunctionsJobHost__Extensions__Queues__BatchSize": "4",
        "azurefunctionsjobhost__extensions__queues__visibilityTimeout": "00:00:01.5",
        "FUNCTIONS_WORKER_RUNTIME": "python",
    }
    settings = read_host_json(path, env)
    assert (settings.batch_size, settings.max_dequeue_count) == (4, 5)
    assert settings.visibility_timeout == 1.5
    assert read_function_timeout(path, env) == 3
    assert read_host_json(path).batch_size == 32  # without the settings, the file's
    assert read_function_timeout(path) == 600


def test_an_override_may_add_what_host_json_lacks(tmp_path: Path) -> None:
    path = host_json(tmp_path)
    env = {"AzureFunctionsJobHost__extensions__queues__messageEncoding": "None"}
    assert read_host_json(path, env).message_encoding == "none"
    assert read_function_timeout(path) == DEFAULT_FUNCTION_TIMEOUT


def test_minus_one_means_no_function_timeout(tmp_path: Path) -> None:
    assert read_function_timeout(host_json(tmp_path, functionTimeout="-1")) is None


def test_timespans_as_the_host_writes_them() -> None:
    assert timespan(600) == "00:10:00"
    assert timespan(2.5) == "00:00:02.500"
    assert timespan(90061) == "25:01:01"


def test_the_watch_fails_the_oldest_invocation_past_its_time_and_no_other() -> None:
    stop = threading.Event()
    late: list[Invocation] = []
    invocations = Invocations(0.3, stop, late.append)
    first = invocations.begin("a")
    time.sleep(0.05)
    invocations.begin("b")
    quick = invocations.begin("c")
    assert invocations.end(quick)  # returned in time: it is the host's to settle
    watcher = threading.Thread(target=invocations.watch, daemon=True)
    watcher.start()
    deadline = time.monotonic() + 5
    while not late and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    watcher.join(2)
    assert late and late[0] is first
    abandoned = invocations.abandon_all()
    assert {i.function for i in abandoned} == {"a", "b"}
    assert not invocations.end(first)  # its worker restarted: its end changes nothing
    assert invocations.abandon_all() == []


def test_no_watch_without_a_function_timeout() -> None:
    stop = threading.Event()
    invocations = Invocations(None, stop, lambda _: None)
    watcher = threading.Thread(target=invocations.watch, daemon=True)
    watcher.start()
    watcher.join(1)
    assert not watcher.is_alive()  # unbounded: nothing to watch


def test_a_value_that_does_not_parse_is_named(tmp_path: Path) -> None:
    path = host_json(tmp_path, functionTimeout="00:10:00")
    with pytest.raises(ValueError, match=r"host.json extensions.queues.batchSize: '4.5'"):
        read_host_json(path, {"AzureFunctionsJobHost__extensions__queues__batchSize": "4.5"})
    with pytest.raises(ValueError, match=r"host.json functionTimeout: 'ten minutes'"):
        read_function_timeout(path, {"AzureFunctionsJobHost__functionTimeout": "ten minutes"})
