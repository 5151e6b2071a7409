"""A host running the test app on Azurite; a test may add settings (indirect parametrization)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pcpub.azurite import AzuritePorts
from pcpub.host.runtime import LocalHost
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
