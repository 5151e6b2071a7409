"""Runs a v2 function app's registered functions against Azurite, as the Functions host would.

What it reproduces of the real host:
- functions and bindings come from the app itself (`app.get_functions()`), not a second list;
- `%NAME%` in binding values resolves from app settings;
- queue triggers: messages are leased for `lease_seconds` (10 minutes in Azure), renewed at
  half of it while the invocation runs (pcpub.host.leases), decoded per host.json's
  messageEncoding, run up to batchSize + newBatchThreshold at once, deleted on success,
  made visible again after visibilityTimeout on failure, and copied to `<queue>-poison` (then
  deleted) once a failing message has been dequeued maxDequeueCount times; a message that
  does not decode goes there at once, the function never called (the queues extension 5.x:
  retrying it cannot help); polling backs off to maxPollingInterval;
- queue output bindings (`func.Out[str]`, or a list of messages) are sent after the function
  returns normally, and wake this host's listener of that queue at once (the host's shared
  queue watcher), where a message sent another way waits for the listener's next poll;
- every invocation (queue, timer, warmup) runs on one pool of worker threads for the whole
  instance, `PYTHON_THREADPOOL_THREAD_COUNT` of them, as the Python worker runs synchronous
  functions: messages leased past that wait for a thread, whatever their function;
- functionTimeout: an invocation past it fails, and the worker restarts, ending every
  invocation on it and failing their messages (pcpub.host.timeouts); the CLI host starts its
  process again, an in-process one abandons the threads (Python cannot stop them);
- a warmup trigger runs once as the instance starts (before it logs that it started);
- timer triggers fire on their NCRONTAB schedule (seconds first, UTC), never overlapping, and
  at start when runOnStartup is set; on one instance at a time (the holder of the timer's
  listener lease, as the Functions host does it; pcpub.host.singleton).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import replace
from pathlib import Path

from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import QueueClient

from pcpub.host.indexing import FunctionSpec, HostStats, load_functions, resolve_setting
from pcpub.host.leases import Leases
from pcpub.host.queue_triggers import QueueTriggers
from pcpub.host.settings import (
    QueueSettings,
    read_function_timeout,
    read_host_json,
    worker_threads,
)
from pcpub.host.singleton import ListenerLease
from pcpub.host.timeouts import Invocation, Invocations, timespan
from pcpub.host.timer_triggers import WARMUP_WAIT_SECONDS, TimerTriggers
from shared.storage import transport_options

log = logging.getLogger("pcpub.host")


class LocalHost(QueueTriggers, TimerTriggers):
    """Listens on every trigger of the app until `stop()`."""

    def __init__(
        self,
        app_dir: Path,
        env: dict[str, str] | None = None,
        *,
        lease_seconds: float = 600.0,
        retry_seconds: float | None = None,
        restart: Callable[[], None] | None = None,
        module: str = "function_app",
    ) -> None:
        """`retry_seconds` shortens host.json's visibilityTimeout (the wait before a failed
        message is tried again) for tests; everything else is as host.json says, with the
        app settings that override it (`AzureFunctionsJobHost__...`). `restart` starts the
        worker's process again after a timeout (without it, the timed-out threads are
        abandoned)."""
        self.app_dir = app_dir
        self.env = dict(os.environ if env is None else env)
        self.queue_settings: QueueSettings = read_host_json(app_dir / "host.json", self.env)
        if retry_seconds is not None:
            self.queue_settings = replace(self.queue_settings, visibility_timeout=retry_seconds)
        self.lease_seconds = lease_seconds
        self.functions = load_functions(app_dir, module)
        self.stats = HostStats()
        self.worker = ThreadPoolExecutor(worker_threads(self.env), thread_name_prefix="worker")
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._wakers: dict[str, threading.Event] = {}  # queue name -> its listener's wake-up
        self._wakers_lock = threading.Lock()
        self._queues: dict[str, QueueClient] = {}
        self._running: set[Future[None]] = set()  # queue invocations submitted, not yet done
        self._leases = Leases(lease_seconds, self._stop)
        self._invocations = Invocations(
            read_function_timeout(app_dir / "host.json", self.env), self._stop, self._timed_out
        )
        self._restart = restart
        self._listeners: list[ListenerLease] = []
        self._lock = threading.Lock()

    # -- storage --------------------------------------------------------------------------

    def _connection(self, name: str) -> str:
        value = self.env.get(name) or self.env.get(f"{name}__connectionString")
        if not value:
            raise KeyError(f"connection setting {name} is not set")
        return value

    def queue(self, connection: str, name: str) -> QueueClient:
        key = f"{connection}/{name}"
        with self._lock:
            if key not in self._queues:
                client = QueueClient.from_connection_string(
                    self._connection(connection), name, **transport_options()
                )
                with contextlib.suppress(ResourceExistsError):
                    client.create_queue()
                self._queues[key] = client
            return self._queues[key]

    # -- lifecycle ------------------------------------------------------------------------

    def unresolved(self) -> list[str]:
        """What the triggers name and the settings lack (a connection, a `%SETTING%`): the
        Functions host refuses to index such a function, and a listener would die on it."""
        missing: dict[str, list[str]] = {}  # what is not set -> the functions needing it
        for spec in self.functions:
            trigger = spec.trigger
            if trigger["type"] not in ("queueTrigger", "timerTrigger"):
                continue
            try:
                self._connection(trigger.get("connection") or "AzureWebJobsStorage")
                resolve_setting(trigger.get("queueName") or trigger.get("schedule") or "", self.env)
            except KeyError as exc:
                missing.setdefault(str(exc.args[0]), []).append(spec.name)
        return [f"{what} ({', '.join(names)})" for what, names in missing.items()]

    def start(self) -> None:
        """Start every trigger's listener; the instance counts as started (logs so) once the
        app's warmup has run, or WARMUP_WAIT_SECONDS have passed. Settings a trigger needs
        and lacks stop it here, all named (ValueError), before any listener starts."""
        if missing := self.unresolved():
            raise ValueError("the app settings lack what triggers need: " + "; ".join(missing))
        warming: list[Future[None]] = []
        for spec in self.functions:
            kind = spec.trigger["type"]
            if kind == "warmupTrigger":
                warming.append(self._warm_up(spec))
                continue
            if kind == "queueTrigger":
                target: Callable[[FunctionSpec], None] = self._listen_queue
            elif kind == "timerTrigger":
                target = self._run_timer
            else:
                log.warning("trigger %s of %s is not supported locally; skipped", kind, spec.name)
                continue
            thread = threading.Thread(
                target=target, args=(spec,), name=f"fn-{spec.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        for name, loop in (("leases", self._leases.renew), ("timeouts", self._invocations.watch)):
            thread = threading.Thread(target=loop, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        wait(warming, WARMUP_WAIT_SECONDS)
        log.info(
            "host started",
            extra={"action": "host_started", "functions": [f.name for f in self.functions]},
        )

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        with self._wakers_lock:
            for event in self._wakers.values():
                event.set()
        for thread in self._threads:
            thread.join(timeout)
        for lease in self._listeners:  # released, or left to lapse when storage is away
            lease.join(timeout)
        # Invocations not yet on a thread are dropped (their messages come back when their
        # leases end); those running are given `timeout` to finish.
        self.worker.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            running = set(self._running)
        wait(running, timeout)

    def _timed_out(self, invocation: Invocation) -> None:
        limit = self._invocations.limit or 0.0
        log.error(
            "Timeout value of %s exceeded by function 'Functions.%s' (Id: '%s'). "
            "Initiating cancellation.",
            timespan(limit),
            invocation.function,
            invocation.id,
            extra={"action": "function_timeout", "function": invocation.function},
        )
        self._restart_worker()

    def _restart_worker(self) -> None:
        """As the host restarts an out-of-process worker: every invocation on it ends as
        failed, and so does each message this instance holds (retried after
        visibilityTimeout, or poisoned); then the worker starts afresh."""
        for invocation in self._invocations.abandon_all():
            self.stats.count(invocation.function, False)
        failed = self._leases.settle_all()
        self.stats.worker_restarts += 1
        log.warning(
            "restarting the worker; %d messages failed with its invocations",
            len(failed),
            extra={"action": "worker_restart", "messages": len(failed)},
        )
        for client, connection, message in failed:
            try:
                self._fail(client, connection, client.queue_name, message)
            except Exception:  # gone, or its lease lost: it comes back when the lease ends
                log.warning("could not fail message %s", message.id)
        if self._restart is not None:
            for lease in self._listeners:  # held by this process: free for the next one
                with contextlib.suppress(Exception):  # else it lapses within its period
                    lease.release()
            self._restart()
            return
        stuck = self.worker  # its threads run on, abandoned: nothing they leave is sent
        self.worker = ThreadPoolExecutor(worker_threads(self.env), thread_name_prefix="worker")
        stuck.shutdown(wait=False)

    def wait(self) -> None:
        while not self._stop.wait(0.5):
            pass
