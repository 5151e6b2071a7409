"""The local functions host against Azurite: the Functions queue and timer semantics, with a
small function app of the test's own (so failures can be made on purpose)."""

from __future__ import annotations

import base64
import contextlib
import json
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.queue import QueueClient

from pcpub.azurite import AzuritePorts
from pcpub.host.runtime import LocalHost
from shared.queues import QueueSender, queue_client_kwargs

APP = textwrap.dedent("""
    import os
    import azure.functions as func

    app = func.FunctionApp()
    C = "AzureWebJobsStorage"

    def note(name, text):
        with open(os.path.join(os.environ["SEEN_DIR"], name), "a") as fh:
            fh.write(text + "\\n")

    @app.function_name("always_fails")
    @app.queue_trigger(arg_name="msg", queue_name="%FAIL_QUEUE%", connection=C)
    def always_fails(msg: func.QueueMessage) -> None:
        note("fails", str(msg.dequeue_count))
        raise RuntimeError("failing on purpose")

    @app.function_name("echo")
    @app.queue_trigger(arg_name="msg", queue_name="%ECHO_QUEUE%", connection=C)
    @app.queue_output(arg_name="out", queue_name="%ECHO_QUEUE%-out", connection=C)
    def echo(msg: func.QueueMessage, out: func.Out[str]) -> None:
        note("echo", msg.get_body().decode())
        out.set(msg.get_body().decode().upper())

    def slow(name):
        import time
        note("slow", f"{time.monotonic()}:1")
        time.sleep(0.3)
        note("slow", f"{time.monotonic()}:-1")

    @app.function_name("slow_a")
    @app.queue_trigger(arg_name="msg", queue_name="%SLOW_A_QUEUE%", connection=C)
    def slow_a(msg: func.QueueMessage) -> None:
        slow("a")

    @app.function_name("slow_b")
    @app.queue_trigger(arg_name="msg", queue_name="%SLOW_B_QUEUE%", connection=C)
    def slow_b(msg: func.QueueMessage) -> None:
        slow("b")

    @app.function_name("lasting")
    @app.queue_trigger(arg_name="msg", queue_name="%LASTING_QUEUE%", connection=C)
    def lasting(msg: func.QueueMessage) -> None:
        import time
        note("lasting", str(msg.dequeue_count))
        time.sleep(float(msg.get_body()))

    @app.function_name("late_echo")
    @app.queue_trigger(arg_name="msg", queue_name="%LATE_QUEUE%", connection=C)
    @app.queue_output(arg_name="out", queue_name="%LATE_QUEUE%-out", connection=C)
    def late_echo(msg: func.QueueMessage, out: func.Out[str]) -> None:
        import time
        note("late", str(msg.dequeue_count))
        time.sleep(float(msg.get_body()))
        out.set("returned")

    @app.function_name("warmup")
    @app.warm_up_trigger("context")
    def warmup(context) -> None:
        import time
        time.sleep(0.3)  # the host counts as started only once this has run
        note("warm", "ran")

    @app.function_name("tick")
    @app.timer_trigger(arg_name="timer", schedule="*/1 * * * * *")
    def tick(timer: func.TimerRequest) -> None:
        import time
        note("ticks", str(timer.past_due))
        note("tick_at", str(time.monotonic()))
        stall = os.environ.get("TICK_STALL")
        if stall and not os.path.exists(os.path.join(os.environ["SEEN_DIR"], "stalled")):
            note("stalled", str(time.monotonic()))
            time.sleep(float(stall))
        status = getattr(timer, "schedule_status", None) or {}
        note("schedules", f"{status.get('Last')}|{status.get('Next')}")
""")

HOST_JSON = {
    "version": "2.0",
    "extensions": {
        "queues": {
            "batchSize": 2,
            "maxDequeueCount": 3,
            "visibilityTimeout": "00:00:00",
            "maxPollingInterval": "00:00:00.5",
            "messageEncoding": "base64",
        }
    },
}


@pytest.fixture
def host(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    azurite: AzuritePorts,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[LocalHost]:
    """The test app on a host; a test may add settings (indirect parametrization)."""
    module = f"hostapp_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(APP)
    (tmp_path / "host.json").write_text(json.dumps(HOST_JSON))
    seen = tmp_path / "seen"
    seen.mkdir()
    suffix = uuid.uuid4().hex[:8]
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "SEEN_DIR": str(seen),
        "FAIL_QUEUE": f"fail-{suffix}",
        "ECHO_QUEUE": f"echo-{suffix}",
        "SLOW_A_QUEUE": f"slow-a-{suffix}",
        "SLOW_B_QUEUE": f"slow-b-{suffix}",
        "LASTING_QUEUE": f"lasting-{suffix}",
        "LATE_QUEUE": f"late-{suffix}",
    }
    settings = dict(getattr(request, "param", {}))
    lease = float(settings.pop("lease", 5))
    env.update(settings)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    local = LocalHost(tmp_path, env, lease_seconds=lease, module=module)
    local.start()
    yield local
    local.stop()


def seen(host: LocalHost, name: str) -> list[str]:
    path = Path(host.env["SEEN_DIR"]) / name
    return path.read_text().split() if path.exists() else []


def raw_queue(host: LocalHost, name: str) -> QueueClient:
    """A queue client with the SDK's default (plain text) encoding; creates the queue."""
    client = QueueClient.from_connection_string(host.env["AzureWebJobsStorage"], name)
    with contextlib.suppress(ResourceExistsError):
        client.create_queue()
    return client


def count(queue: QueueClient) -> int:
    """Messages in a queue; a queue the host has not created yet has none."""
    try:
        return queue.get_queue_properties().approximate_message_count or 0
    except ResourceNotFoundError:
        return 0


def wait_for(check: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def sender(host: LocalHost) -> QueueSender:
    conn = host.env["AzureWebJobsStorage"]
    return QueueSender(
        lambda n: QueueClient.from_connection_string(conn, n, **queue_client_kwargs())
    )


def test_a_failing_message_is_poisoned_after_max_dequeue_count(host: LocalHost) -> None:
    queue = host.env["FAIL_QUEUE"]
    sender(host).send(queue, '{"n": 1}')
    poison = raw_queue(host, f"{queue}-poison")
    wait_for(lambda: count(poison) == 1)
    assert seen(host, "fails") == ["1", "2", "3"]
    [copy] = poison.peek_messages()
    assert base64.b64decode(copy.content) == b'{"n": 1}'  # the body, as it was sent
    assert count(raw_queue(host, queue)) == 0


def test_a_message_that_is_not_base64_is_poisoned_at_once_unread(host: LocalHost) -> None:
    """As the queues extension does: no function call, no retries (a failed call would be
    seen again only after the visibility timeout, five minutes here)."""
    host.queue_settings = replace(host.queue_settings, visibility_timeout=300)
    queue = host.env["ECHO_QUEUE"]
    raw_queue(host, queue).send_message("plain text, as the SDK sends by default")
    poison = raw_queue(host, f"{queue}-poison")
    wait_for(lambda: count(poison) == 1)
    [copy] = poison.peek_messages()
    assert copy.content == "plain text, as the SDK sends by default"  # as it came
    assert count(raw_queue(host, queue)) == 0
    assert seen(host, "echo") == []
    assert host.stats.failures.get("echo", 0) == 0


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


@pytest.mark.parametrize("host", [{"PYTHON_THREADPOOL_THREAD_COUNT": "1"}], indirect=True)
def test_a_listener_leases_only_what_its_function_may_run(host: LocalHost) -> None:
    """Like the queue extension's listener: the next batch is read once no more than
    newBatchThreshold messages still run, so at most batchSize + newBatchThreshold (3 here)
    are out of sight at once; the rest stay visible for other instances."""
    queue = host.env["SLOW_A_QUEUE"]
    for n in range(10):
        sender(host).send(queue, str(n))
    client = raw_queue(host, queue)
    most, done, deadline = 0, 0, time.monotonic() + 20
    while done < 10 and time.monotonic() < deadline:
        visible = len(client.peek_messages(max_messages=32))
        done = sum(e.endswith(":-1") for e in seen(host, "slow"))  # read after: never fewer
        most = max(most, 10 - visible - done)
        time.sleep(0.05)
    assert (done, most) == (10, 3)


@pytest.mark.parametrize("host", [{"lease": 4}], indirect=True)
def test_a_running_message_keeps_its_lease_until_it_is_settled(host: LocalHost) -> None:
    """The host renews a message's lease while its invocation runs: one that runs past the
    lease (4 s, as the e2e stacks') is not delivered again meanwhile, and is deleted when it
    ends."""
    queue = host.env["LASTING_QUEUE"]
    sender(host).send(queue, "6.5")
    wait_for(lambda: host.stats.invocations.get("lasting") == 1, timeout=15)
    time.sleep(1.0)
    assert seen(host, "lasting") == ["1"]
    assert count(raw_queue(host, queue)) == 0


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


def test_queue_output_binding_is_sent_after_success(host: LocalHost) -> None:
    queue = host.env["ECHO_QUEUE"]
    sender(host).send(queue, "hello")
    out = raw_queue(host, f"{queue}-out")
    wait_for(lambda: count(out) == 1)
    [message] = out.peek_messages()
    assert base64.b64decode(message.content) == b"HELLO"
    assert seen(host, "echo") == ["hello"]


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


def test_a_delayed_message_waits_for_its_visibility(host: LocalHost) -> None:
    queue = host.env["ECHO_QUEUE"]
    sender(host).send(queue, "later", delay_seconds=2)
    time.sleep(1.0)
    assert seen(host, "echo") == []
    wait_for(lambda: seen(host, "echo") == ["later"], timeout=10)


RELAY_APP = textwrap.dedent("""
    import os, time
    import azure.functions as func

    app = func.FunctionApp()
    C = "AzureWebJobsStorage"

    def note(name, text):
        with open(os.path.join(os.environ["SEEN_DIR"], name), "a") as fh:
            fh.write(text + "\\n")

    @app.function_name("relay")
    @app.timer_trigger(arg_name="timer", schedule="*/1 * * * * *")
    @app.queue_output(arg_name="out", queue_name="%NEXT_QUEUE%", connection=C)
    def relay(timer: func.TimerRequest, out: func.Out[list[str]]) -> None:
        if os.path.exists(os.path.join(os.environ["SEEN_DIR"], "sent")):
            return
        if time.monotonic() - float(os.environ["STARTED"]) < 4:
            return  # let the listener's idle back-off grow first
        note("sent", repr(time.time()))
        out.set(["one", "two"])

    @app.function_name("next")
    @app.queue_trigger(arg_name="msg", queue_name="%NEXT_QUEUE%", connection=C)
    def next_stage(msg: func.QueueMessage) -> None:
        note("got", msg.get_body().decode() + "@" + repr(time.time()))
""")


def test_an_output_binding_wakes_this_hosts_listener_of_its_queue(
    tmp_path: Path, azurite: AzuritePorts, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A list sent through a queue output binding is sent whole, and the host's idle listener
    of that queue (backed off towards 20 s here) picks it up at once, as the Functions host's
    shared queue watcher does."""
    module = f"relayapp_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(RELAY_APP)
    slow = json.loads(json.dumps(HOST_JSON))
    slow["extensions"]["queues"]["maxPollingInterval"] = "00:00:20"
    (tmp_path / "host.json").write_text(json.dumps(slow))
    seen_dir = tmp_path / "seen"
    seen_dir.mkdir()
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "SEEN_DIR": str(seen_dir),
        "NEXT_QUEUE": f"next-{uuid.uuid4().hex[:8]}",
        "STARTED": repr(time.monotonic()),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    local = LocalHost(tmp_path, env, lease_seconds=5, module=module)
    local.start()
    try:
        wait_for(lambda: len(seen(local, "got")) == 2, timeout=15)
    finally:
        local.stop()
    [sent] = [float(t) for t in seen(local, "sent")]
    got = {text.split("@")[0]: float(text.split("@")[1]) for text in seen(local, "got")}
    assert set(got) == {"one", "two"}
    assert max(got.values()) - sent < 1.0, (sent, got)  # not the idle poll's many seconds


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
