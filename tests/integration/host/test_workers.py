"""The local functions host against Azurite: the Python worker's thread pool, functionTimeout
and worker restarts, timers, the warmup trigger, and the settings triggers need, checked at
start."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from pcpub.azurite import AzuritePorts
from pcpub.host.runtime import LocalHost
from tests.integration.host.app import APP, HOST_JSON, count, raw_queue, seen, sender, wait_for


@pytest.mark.parametrize("host", [{"PYTHON_THREADPOOL_THREAD_COUNT": "2"}], indirect=True)
def test_every_function_runs_on_the_instances_worker_threads(host: LocalHost) -> None:
    """As the Python worker: one pool of PYTHON_THREADPOOL_THREAD_COUNT threads for every
    function, however many messages the listeners lease (three a function here)."""
    for queue in (host.env["SLOW_A_QUEUE"], host.env["SLOW_B_QUEUE"]):
        for n in range(3):
            sender(host).send(queue, str(n))
    wait_for(lambda: len(seen(host, "slow")) == 12)
    running, most = 0, 0
    steps = (entry.split(":") for entry in seen(host, "slow"))
    for _, step in sorted((float(at), int(change)) for at, change in steps):
        running += step
        most = max(most, running)
    assert most == 2


@pytest.mark.parametrize(
    "host", [{"AzureFunctionsJobHost__functionTimeout": "00:00:01"}], indirect=True
)
def test_an_invocation_past_function_timeout_fails_and_restarts_the_worker(
    host: LocalHost,
) -> None:
    """As the Functions host enforces functionTimeout on a Python worker: an invocation still
    running at 1 s fails and the worker restarts; its message is tried again (at once: this
    app's visibilityTimeout is 0) and poisoned at maxDequeueCount (3). Each abandoned
    invocation returns 1.5 s later, and what it set on its output binding is never sent."""
    queue = host.env["LATE_QUEUE"]
    sender(host).send(queue, "2.5")
    poison = raw_queue(host, f"{queue}-poison")
    wait_for(lambda: count(poison) == 1, timeout=20)
    assert seen(host, "late") == ["1", "2", "3"]
    assert host.stats.worker_restarts == 3
    assert host.stats.failures.get("late_echo") == 3
    time.sleep(3.0)  # every abandoned invocation has returned
    assert count(raw_queue(host, f"{queue}-out")) == 0
    assert count(raw_queue(host, queue)) == 0


@pytest.mark.parametrize(
    "host",
    [
        {
            "AzureFunctionsJobHost__functionTimeout": "00:00:01",
            "AzureFunctionsJobHost__extensions__queues__maxDequeueCount": "1",
        }
    ],
    indirect=True,
)
def test_a_worker_restart_ends_every_invocation_on_it(host: LocalHost) -> None:
    """The restart after one invocation's timeout ends the others on the worker too: a
    message of another function, well within its time, fails with it; at its last
    dequeue (maxDequeueCount 1 here, as an app setting overrides host.json) it is poisoned,
    and the invocation, abandoned, deletes nothing when it returns."""
    send = sender(host)
    send.send(host.env["LASTING_QUEUE"], "4")
    wait_for(lambda: seen(host, "lasting") == ["1"])
    send.send(host.env["LATE_QUEUE"], "30")
    for queue in (host.env["LASTING_QUEUE"], host.env["LATE_QUEUE"]):
        poison = raw_queue(host, f"{queue}-poison")
        wait_for(lambda poison=poison: count(poison) == 1, timeout=15)
    assert host.stats.worker_restarts == 1
    time.sleep(4.0)  # the abandoned `lasting` has returned
    assert seen(host, "lasting") == ["1"]
    failures = host.stats.failures  # (a timer tick running at that moment fails too)
    assert (failures.get("lasting"), failures.get("late_echo")) == (1, 1)


@pytest.mark.parametrize(
    "host",
    [{"AzureFunctionsJobHost__functionTimeout": "00:00:01", "TICK_STALL": "8"}],
    indirect=True,
)
def test_a_timer_past_function_timeout_keeps_its_schedule(host: LocalHost) -> None:
    """A timer call that hangs fails at functionTimeout with the worker it ran on, and the
    schedule goes on from there, as the host's own timer listener does: the next occurrences
    are called while the hung call still sleeps (8 s), not after it returns."""
    wait_for(lambda: seen(host, "stalled"), timeout=5)
    [stalled] = (float(at) for at in seen(host, "stalled"))
    wait_for(lambda: host.stats.worker_restarts >= 1, timeout=5)
    time.sleep(4.0)
    after = [float(at) for at in seen(host, "tick_at") if float(at) > stalled + 0.5]
    assert len(after) >= 2, after
    assert all(at < stalled + 6 for at in after[:2])


def test_timer_fires_on_its_schedule(host: LocalHost) -> None:
    wait_for(lambda: len(seen(host, "ticks")) >= 2, timeout=5)
    assert host.stats.failures.get("tick", 0) == 0


def test_a_timer_hears_its_schedule_status_as_the_host_passes_it(host: LocalHost) -> None:
    """With use_monitor the host names the occurrence a call is for and the next one: the
    poller sends every check due before that next one (shared.pipeline.checks)."""
    wait_for(lambda: len(seen(host, "schedules")) >= 2, timeout=5)
    last, following = seen(host, "schedules")[-1].split("|")
    gap = datetime.fromisoformat(following) - datetime.fromisoformat(last)
    assert gap == timedelta(seconds=1)  # "*/1 * * * * *"


def test_the_warmup_has_run_once_when_the_host_counts_as_started(host: LocalHost) -> None:
    assert seen(host, "warm") == ["ran"]
    assert host.stats.invocations["warmup"] == 1
    time.sleep(1.2)  # not again, like a timer
    assert seen(host, "warm") == ["ran"]


def test_settings_a_trigger_lacks_stop_the_host_before_it_listens(
    tmp_path: Path, azurite: AzuritePorts, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing connection or `%SETTING%` is named at start, with the functions needing it;
    it used to kill their listener threads while the host ran on, deaf to their queues."""
    (tmp_path / "host.json").write_text(json.dumps(HOST_JSON))
    monkeypatch.setenv("SEEN_DIR", str(tmp_path))
    saids = []
    for env in (
        {"SEEN_DIR": str(tmp_path)},
        {"AzureWebJobsStorage": azurite.connection_string, "SEEN_DIR": str(tmp_path)},
    ):
        module = f"hostapp_{uuid.uuid4().hex[:8]}"  # each load registers its functions anew
        (tmp_path / f"{module}.py").write_text(APP)
        local = LocalHost(tmp_path, env, module=module)
        with pytest.raises(ValueError, match="lack what triggers need") as refused:
            local.start()
        assert not local._threads  # nothing listens: nothing half-started to stop
        saids.append(str(refused.value))
    functions = "always_fails, echo, slow_a, slow_b, lasting, late_echo, tick"
    assert f"AzureWebJobsStorage is not set ({functions})" in saids[0]
    assert "FAIL_QUEUE (used in a binding) is not set (always_fails)" in saids[1]
    assert "ECHO_QUEUE (used in a binding) is not set (echo)" in saids[1]
