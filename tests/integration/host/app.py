"""The local functions host's test app (so failures can be made on purpose), its host.json,
and what the tests read back from it."""

from __future__ import annotations

import contextlib
import textwrap
import time
from pathlib import Path

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.queue import QueueClient

from pcpub.host.runtime import LocalHost
from shared.queues import QueueSender, queue_client_kwargs

PROLOGUE = textwrap.dedent("""
    import os, time
    import azure.functions as func

    app = func.FunctionApp()
    C = "AzureWebJobsStorage"

    def note(name, text):
        with open(os.path.join(os.environ["SEEN_DIR"], name), "a") as fh:
            fh.write(text + "\\n")
""")  # what each test app starts with: its note() is what the tests read back (seen)

APP = PROLOGUE + textwrap.dedent("""
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
