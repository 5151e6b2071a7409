"""The whole local stack: Azurite, the simulator with its stand-ins, and the local functions
host running this function app, each a child process on free ports, stopped by PID.

The app settings the host gets are the production setting names with local endpoints; no code
path in shared/ knows it is running locally.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from pcpub.azurite import PROJECT_ROOT, AzuritePorts, start_azurite
from pcpub.host.settings import WORKER_THREADS_SETTING, read_host_json
from pcpub.processes import Managed, wait_until
from pcsim.admin import SimulatorClient
from shared.queues import ALL_QUEUES, EVENTS, PUBLISH_REQUESTS

log = logging.getLogger(__name__)


def app_settings(
    sim: dict[str, Any],
    storage: str,
    *,
    poll_seconds: float = 1.0,
    poll_schedule: str = "*/1 * * * * *",
    retry_delay_seconds: float = 2.0,
) -> dict[str, str]:
    """The function app's settings for the local stack (local.settings.json's Values)."""
    return {
        "AzureWebJobsStorage": storage,
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "POLL_SCHEDULE": poll_schedule,
        "DEADLETTER_SCHEDULE": "*/2 * * * * *",
        "PC_API_URL": sim["ingestionBaseUrl"],
        "PC_PRODUCT_INGESTION_URL": sim["productIngestionUrl"],
        "PC_AUTHORITY_HOST": sim["authorityHost"],
        "PC_TENANT_ID": sim["tenantId"],
        "PC_CLIENT_ID": sim["clientId"],
        "PC_SECRET_NAME": sim["secretName"],
        "KEY_VAULT_URL": sim["vaultUrl"],
        "VAULT_CREDENTIAL": "client-secret",
        "VAULT_CLIENT_ID": sim["identityClientId"],
        "VAULT_CLIENT_SECRET": sim["identityClientSecret"],
        "VAULT_VERIFY_CHALLENGE_RESOURCE": "false",
        "TLS_CA_BUNDLE": sim["caCertPath"],
        "PC_UPLOAD_ORIGINS": ",".join(sim["uploadOrigins"]),
        "PC_STATUS_POLL_SECONDS": str(poll_seconds),
        # The waits' history is the stack's (its table), and a test's polls must not depend on
        # the tests run before it: the plain schedule here, unless a caller turns it on (the
        # throughput bench does; production's default is on).
        "PC_STATUS_POLL_LEARN": "false",
        "PC_RETRY_DELAY_SECONDS": str(retry_delay_seconds),
        # Short, to match the short message leases local runs use (Azure: 10 minutes).
        "PC_CLAIM_SECONDS": "8",
        # The simulator sets no rate limit unless a test asks: the shared budget stays on,
        # with a ceiling that does not slow local runs down (production's default is 600).
        "PC_RATE_LIMIT_PER_MINUTE": "6000",
        # Telemetry stays on this machine: a connection string in the caller's environment
        # must not send the local stack's records to Azure (OTEL_EXPORTER_OTLP_ENDPOINT may
        # name a collector on loopback; tests/e2e/test_telemetry.py does).
        "APPLICATIONINSIGHTS_CONNECTION_STRING": "",
        # As infra sets it: a worker thread for each message one function may run at once.
        WORKER_THREADS_SETTING: str(read_host_json(PROJECT_ROOT / "host.json").concurrency),
    }


class LocalStack:
    """Start with `start()`, stop with `stop()` (or use it as a context manager)."""

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        profile: str = "fast",
        poll_seconds: float = 1.0,
        lease_seconds: float = 600.0,
        retry_seconds: float | None = None,
        contract: Path | None = None,
        app_dir: Path = PROJECT_ROOT,
        extra_settings: dict[str, str] | None = None,
        keep_host_alive: bool = False,
        persist_storage: bool = False,
        hosts: int = 1,
    ) -> None:
        self.persist_storage = persist_storage  # Azurite on disk, so it can be restarted
        self.extra_settings = dict(extra_settings or {})
        self.keep_host_alive = keep_host_alive  # restart a host that dies, as Azure would
        self.host_restarts = 0
        self._stopping = threading.Event()
        self._host_lock = threading.Lock()
        # A directory of its own (logs, Azurite's data, the simulator's CA key) goes with the
        # stack when it stops cleanly; one the caller names is the caller's (keep_workdir).
        self.owns_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="pcpub-stack-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.profile = profile
        self.poll_seconds = poll_seconds
        self.lease_seconds = lease_seconds
        self.retry_seconds = retry_seconds
        self.contract = contract  # the OpenAPI document the simulator checks its answers with
        self.app_dir = app_dir
        self.azurite: Managed | None = None
        self.ports: AzuritePorts | None = None
        self.simulator: Managed | None = None
        self.host_count = hosts  # instances of the function app, as Azure scales out
        self.hosts: list[Managed] = []
        self.sim_config: dict[str, Any] = {}
        self.settings: dict[str, str] = {}

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        if kind is not None:  # its logs say what went wrong
            self.keep_workdir()
        self.stop()

    def keep_workdir(self) -> Path:
        """Keep the stack's directory past its stop (it has something to show)."""
        self.owns_workdir = False
        return self.workdir

    @property
    def host(self) -> Managed | None:
        """The first instance (the only one, unless `hosts` says otherwise)."""
        return self.hosts[0] if self.hosts else None

    @property
    def connection_string(self) -> str:
        assert self.ports is not None
        return self.ports.connection_string

    def start(self, *, with_host: bool = True) -> None:
        try:
            self.azurite, self.ports = start_azurite(self.workdir, persist=self.persist_storage)
            self.start_simulator()
            self.settings = app_settings(
                self.sim_config, self.connection_string, poll_seconds=self.poll_seconds
            )
            self.settings.update(self.extra_settings)
            self.settings_path.write_text(
                json.dumps({"IsEncrypted": False, "Values": self.settings}, indent=2)
            )
            os.chmod(self.settings_path, 0o600)
            if with_host:
                self.start_host()
                if self.keep_host_alive:
                    threading.Thread(
                        target=self._watch_host, name="host-watch", daemon=True
                    ).start()
        except BaseException:
            self.keep_workdir()  # the logs of what did not start
            self.stop()
            raise

    @property
    def settings_path(self) -> Path:
        return self.workdir / "local.settings.json"

    def start_simulator(self, timeout: float = 30.0) -> None:
        config_path = self.workdir / "simulator.json"
        config_path.unlink(missing_ok=True)
        self.simulator = Managed(
            "simulator",
            [
                sys.executable,
                "-m",
                "pcpub.cli",
                "simulator",
                "--profile",
                self.profile,
                "--write-config",
                str(config_path),
                "--state-dir",
                str(self.workdir / "tls"),
                *(["--contract", str(self.contract)] if self.contract else []),
                # Package uploads go to Azurite, on a real SAS, as in Azure.
                "--blob-connection-string",
                self.connection_string,
            ],
            self.workdir / "simulator.log",
            cwd=self.app_dir,
        )
        wait_until(config_path.exists, timeout, "the simulator's config", self.simulator)
        self.sim_config = json.loads(config_path.read_text())
        admin = SimulatorClient(self.sim_config)
        try:
            wait_until(admin.healthy, timeout, "the simulator to answer", self.simulator)
        finally:
            admin.close()

    def start_host(self) -> None:
        """Start every instance (again, after a stop)."""
        for index in range(self.host_count):
            self._start_instance(index)

    def _start_instance(self, index: int) -> None:
        log_path = self.workdir / ("host.log" if index == 0 else f"host-{index + 1}.log")
        log_path.unlink(missing_ok=True)
        started = Managed(
            "host" if index == 0 else f"host-{index + 1}",
            [
                sys.executable,
                "-m",
                "pcpub.cli",
                "host",
                "--app-dir",
                str(self.app_dir),
                "--settings",
                str(self.settings_path),
                "--lease-seconds",
                str(self.lease_seconds),
                *(["--retry-seconds", str(self.retry_seconds)] if self.retry_seconds else []),
            ],
            log_path,
            cwd=self.app_dir,
        )
        if index < len(self.hosts):
            self.hosts[index] = started
        else:
            self.hosts.append(started)
        wait_until(
            lambda: log_path.exists() and b'"host_started"' in log_path.read_bytes(),
            30,
            "the host to start",
            started,
        )

    def _watch_host(self) -> None:
        """Start again any instance that stopped, as the platform does; one that dies while
        it starts (a crash point firing on a redelivered message before the instance said it
        was up) is started again on the next look."""
        while not self._stopping.wait(0.2):
            with self._host_lock:
                if self._stopping.is_set():  # stopping meanwhile: nothing is started again
                    return
                for index, host in enumerate(self.hosts):
                    if host.popen.poll() is not None:
                        self.host_restarts += 1
                        host.stop()
                        try:
                            self._start_instance(index)
                        except RuntimeError as exc:
                            log.warning("instance %d did not come up: %s", index, exc)

    def restart_azurite(self, down_seconds: float = 0.0) -> None:
        """Stop Azurite and start it again on the same ports and data (an outage)."""
        assert self.azurite is not None and self.persist_storage
        self.azurite.stop()
        time.sleep(down_seconds)
        self.azurite, _ = start_azurite(self.workdir, ports=self.ports, persist=True)

    def freeze_azurite(self, seconds: float) -> None:
        """Stop Azurite answering for `seconds` (SIGSTOP): connections open and requests go
        unanswered, as in a network partition, then it carries on where it was."""
        assert self.azurite is not None
        os.kill(self.azurite.pid, signal.SIGSTOP)
        try:
            time.sleep(seconds)
        finally:
            os.kill(self.azurite.pid, signal.SIGCONT)

    def restart_host(self, *, kill: bool = False, index: int = 0) -> None:
        """Stop (or kill) one instance and start it again."""
        with self._host_lock:
            if index < len(self.hosts):
                host = self.hosts[index]
                host.kill() if kill else host.stop()
            self._start_instance(index)

    def kill_host(self, index: int) -> None:
        """Kill one instance and leave it dead (the others carry on, or the watcher
        restarts it when `keep_host_alive` is set)."""
        with self._host_lock:
            self.hosts[index].kill()

    def reconfigure_host(self, **values: str | None) -> None:
        """Change app settings (None removes one) and restart the host with them, as a
        settings change restarts a function app."""
        for name, value in values.items():
            if value is None:
                self.settings.pop(name, None)
            else:
                self.settings[name] = value
        self.settings_path.write_text(
            json.dumps({"IsEncrypted": False, "Values": self.settings}, indent=2)
        )
        for index in range(len(self.hosts)):
            self.restart_host(index=index)

    def stop(self) -> None:
        self._stopping.set()
        with self._host_lock:  # not while the watcher starts an instance again
            hosts = list(self.hosts)
        for proc in (*hosts, self.simulator, self.azurite):
            if proc is not None:
                proc.stop()
        if self.owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def describe(self) -> dict[str, Any]:
        """What `pcpub up --write-config` writes for other terminals and systems."""
        return {
            **self.sim_config,
            "storageConnectionString": self.connection_string,
            "publishRequestQueue": PUBLISH_REQUESTS,
            "eventsQueue": EVENTS,
            "queues": list(ALL_QUEUES),
            "appSettingsPath": str(self.settings_path),
            "workdir": str(self.workdir),
        }
