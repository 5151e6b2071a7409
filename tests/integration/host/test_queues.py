"""The local functions host against Azurite: the Functions queue semantics (poison, leases,
visibility, output bindings, the shared queue watcher)."""

from __future__ import annotations

import base64
import json
import textwrap
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from pcpub.azurite import AzuritePorts
from pcpub.host.runtime import LocalHost
from tests.integration.host.app import (
    HOST_JSON,
    PROLOGUE,
    count,
    raw_queue,
    seen,
    sender,
    wait_for,
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


def test_queue_output_binding_is_sent_after_success(host: LocalHost) -> None:
    queue = host.env["ECHO_QUEUE"]
    sender(host).send(queue, "hello")
    out = raw_queue(host, f"{queue}-out")
    wait_for(lambda: count(out) == 1)
    [message] = out.peek_messages()
    assert base64.b64decode(message.content) == b"HELLO"
    assert seen(host, "echo") == ["hello"]


def test_a_delayed_message_waits_for_its_visibility(host: LocalHost) -> None:
    queue = host.env["ECHO_QUEUE"]
    sender(host).send(queue, "later", delay_seconds=2)
    time.sleep(1.0)
    assert seen(host, "echo") == []
    wait_for(lambda: seen(host, "echo") == ["later"], timeout=10)


RELAY_APP = PROLOGUE + textwrap.dedent("""
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
