"""The host's triggers that are not queue messages: timers, on one instance at a time, and the
warmup an instance runs as it is added, before it counts as started."""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from datetime import UTC, datetime

from azure.functions.timer import TimerRequest as TriggerTimer
from azure.functions.warmup import WarmUpContext

from pcpub.host.indexing import FunctionSpec, HostStats, Out, resolve_setting
from pcpub.host.singleton import ListenerLease
from pcpub.host.timeouts import Invocations

log = logging.getLogger("pcpub.host")
# The longest a start waits for the app's warmup: an instance that cannot warm up (its vault
# unreachable, say) still starts; its functions then load what they need as they run.
WARMUP_WAIT_SECONDS = 10.0
RESTART_LOOK_SECONDS = 0.25  # how often a timer waiting for its call looks for a restart


class TimerTriggers(ABC):
    env: dict[str, str]
    stats: HostStats
    worker: ThreadPoolExecutor  # the instance's worker threads, every invocation's
    _stop: threading.Event
    _invocations: Invocations  # those running, on the clock of functionTimeout
    _listeners: list[ListenerLease]  # the timers' listener leases, held or sought

    @abstractmethod
    def _connection(self, name: str) -> str: ...

    @abstractmethod
    def _send_outputs(
        self, spec: FunctionSpec, outputs: dict[str, Out], connection: str
    ) -> None: ...

    # -- warmup -----------------------------------------------------------------------------

    def _warm_up(self, spec: FunctionSpec) -> Future[None]:
        """Run the app's warmup function (one per app, named `warmup`), as the host does on an
        instance added to scale out; the caller waits for it up to WARMUP_WAIT_SECONDS."""
        return self.worker.submit(self._invoke, spec, WarmUpContext())

    # -- timers -----------------------------------------------------------------------------

    def _run_timer(self, spec: FunctionSpec) -> None:
        from croniter import croniter

        trigger = spec.trigger
        schedule = resolve_setting(trigger["schedule"], self.env)
        fields = schedule.split()
        six = len(fields) == 6
        it = croniter(schedule, datetime.now(UTC), second_at_beginning=six)
        lease = self._listener_lease(spec)
        due: datetime = it.get_next(datetime)
        if trigger.get("runOnStartup") and lease.hold():
            self._invoke_timer(spec, past_due=False, last=None, following=due)
        while not self._stop.is_set():
            wait = (due - datetime.now(UTC)).total_seconds()
            if wait > 0 and self._stop.wait(wait):
                return
            late = (datetime.now(UTC) - due).total_seconds()
            if late > 1.0:  # like the host: one catch-up run, not one per missed occurrence
                it = croniter(schedule, datetime.now(UTC), second_at_beginning=six)
            last, due = due, it.get_next(datetime)
            if lease.hold():  # else another instance holds this timer's listener lease
                self._invoke_timer(spec, past_due=late > 1.0, last=last, following=due)

    def _listener_lease(self, spec: FunctionSpec) -> ListenerLease:
        """One instance at a time runs a timer: the one holding its listener lease."""
        host_id = (
            self.env.get("AzureFunctionsJobHost__id")
            or self.env.get("WEBSITE_SITE_NAME")
            or "pcpub-local"
        )
        lease = ListenerLease(
            self._connection("AzureWebJobsStorage"), host_id, spec.name, self._stop
        )
        self._listeners.append(lease)
        return lease

    def _invoke_timer(
        self, spec: FunctionSpec, *, past_due: bool, last: datetime | None, following: datetime
    ) -> None:
        """As the host calls a timer with `use_monitor`: its schedule status names the
        occurrence this call is for and the next one (the poller looks that far ahead)."""
        status = {
            "Last": last.isoformat() if last else None,
            "Next": following.isoformat(),
            "LastUpdated": datetime.now(UTC).isoformat(),
        }
        trigger = TriggerTimer(past_due=past_due, schedule_status=status)
        restarts = self.stats.worker_restarts
        try:  # on a worker thread, as every invocation; the schedule waits for it
            call = self.worker.submit(self._invoke, spec, trigger)
        except RuntimeError:  # the instance is stopping
            return
        while not self._stop.is_set():
            try:
                call.result(timeout=RESTART_LOOK_SECONDS)
                return
            except TimeoutError:  # concurrent.futures.TimeoutError is this one
                # A worker restart (functionTimeout) ended this call with every other: the
                # schedule goes on, as the host's listener does; the abandoned thread returns
                # when it will, and nothing it leaves is sent.
                if self.stats.worker_restarts != restarts:
                    return
            except CancelledError:
                return

    def _invoke(self, spec: FunctionSpec, trigger: object) -> None:
        """One invocation of a function not triggered by a message; its queue outputs sent."""
        ok = False
        started = time.monotonic()
        invocation = self._invocations.begin(spec.name)
        try:
            outputs = {b["name"]: Out() for b in spec.outputs}
            spec.call(**{spec.trigger["name"]: trigger}, **outputs)
            if not self._invocations.end(invocation):
                return  # its worker was restarted meanwhile: what it left is not sent
            self._send_outputs(spec, outputs, "AzureWebJobsStorage")
            ok = True
        except Exception:
            if not self._invocations.end(invocation):
                return
            log.exception(
                "function %s failed",
                spec.name,
                extra={"action": "function_failed", "function": spec.name},
            )
        self.stats.count(spec.name, ok)
        log.debug(
            "Executed 'Functions.%s' (%s, Duration=%dms)",
            spec.name,
            "Succeeded" if ok else "Failed",
            (time.monotonic() - started) * 1000,
        )
