"""Azurite (queues, tables, blobs) from the project's own npm install, on free loopback ports.

It always runs with --disableTelemetry (otherwise it reaches out of the machine),
--skipApiVersionCheck (the Python SDKs are newer than Azurite) and in-memory persistence.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pcpub.processes import Managed, free_ports, port_open, wait_until

PROJECT_ROOT = Path(__file__).resolve().parents[1]
ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key (public; it only opens the local emulator).
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def azurite_bin(root: Path = PROJECT_ROOT) -> Path:
    return root / "node_modules" / ".bin" / "azurite"


def ensure_installed(root: Path = PROJECT_ROOT) -> Path:
    """Install Azurite from the lockfile when it is not there yet."""
    binary = azurite_bin(root)
    if not binary.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is needed to install Azurite (apt-get install nodejs npm)")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=root, check=True)
    return binary


@dataclass(frozen=True)
class AzuritePorts:
    blob: int
    queue: int
    table: int

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={DEV_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{self.blob}/{ACCOUNT};"
            f"QueueEndpoint=http://127.0.0.1:{self.queue}/{ACCOUNT};"
            f"TableEndpoint=http://127.0.0.1:{self.table}/{ACCOUNT};"
        )


def start_azurite(
    workdir: Path,
    root: Path = PROJECT_ROOT,
    timeout: float = 30.0,
    *,
    ports: AzuritePorts | None = None,
    persist: bool = False,
) -> tuple[Managed, AzuritePorts]:
    """Start Azurite; in memory unless `persist` (data under workdir, so that a restart on
    the same `ports` finds it again)."""
    binary = ensure_installed(root)
    if ports is None:  # another process may take a free port before Azurite does: retry
        for attempt in range(3):
            try:
                return start_azurite(
                    workdir, root, timeout, ports=AzuritePorts(*free_ports(3)), persist=persist
                )
            except RuntimeError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")
    storage = (
        ["--location", str(workdir / "azurite-data")] if persist else ["--inMemoryPersistence"]
    )
    proc = Managed(
        "azurite",
        [
            str(binary),
            "--silent",
            *storage,
            "--disableTelemetry",
            "--skipApiVersionCheck",
            "--loose",
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(ports.blob),
            "--queueHost",
            "127.0.0.1",
            "--queuePort",
            str(ports.queue),
            "--tableHost",
            "127.0.0.1",
            "--tablePort",
            str(ports.table),
        ],
        workdir / "azurite.log",
    )
    try:
        wait_until(
            lambda: all(port_open(p) for p in (ports.blob, ports.queue, ports.table)),
            timeout,
            "Azurite to listen",
            proc,
        )
    except Exception:
        proc.stop()
        raise
    return proc, ports
