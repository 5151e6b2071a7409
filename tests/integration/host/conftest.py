"""A host running the test app on Azurite; a test may add settings (indirect parametrization)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pcpub.azurite import AzuritePorts, start_azurite
from pcpub.host.runtime import LocalHost
from pcpub.processes import Managed
from tests.integration.host.app import APP, HOST_JSON


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


@dataclass
class OwnAzurite:
    """Azurite of a test's own, which the test may stop and start again: on the same ports,
    with its data (a storage blink)."""

    workdir: Path
    proc: Managed
    ports: AzuritePorts

    def stop(self) -> None:
        self.proc.stop()

    def start(self) -> None:
        self.proc, _ = start_azurite(self.workdir, ports=self.ports, persist=True)


@pytest.fixture
def own_azurite(tmp_path: Path) -> Iterator[OwnAzurite]:
    proc, ports = start_azurite(tmp_path, persist=True)
    own = OwnAzurite(tmp_path, proc, ports)
    yield own
    own.stop()
