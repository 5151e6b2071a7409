"""`make demo`'s command, as a newcomer runs it: everything up, an Azure Application offer and
a Business Central app to live, a summary of each, everything stopped."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_publishes_to_live_and_cleans_up() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pcpub.cli", "demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    # An Azure Application offer and a Business Central app, both live.
    assert "summary of demo-" in out and "-bc\n" in out and "-azure\n" in out
    assert out.count("succeeded at complete") == 2
    assert out.count("is Published/InStore") == 2
    for stage in (
        "resolve",
        "upload_package",
        "update_draft",
        "submit_preview",
        "await_preview",
        "promote",
        "await_live",
        "complete",
    ):
        assert stage in out
    workdir = out.split("logs")[1].split()[0]
    assert workdir.startswith(tempfile.gettempdir())
    assert not Path(workdir).exists()  # a demo that went as it should leaves nothing behind
    # stopped: no process of the stack (each names the directory in its command line) is left
    left = subprocess.run(["pgrep", "-f", workdir], capture_output=True, text=True)
    assert left.stdout.split() == []


def test_up_writes_its_config_and_stops_everything_on_sigterm(tmp_path: Path) -> None:
    import json
    import os
    import signal
    import time

    config = tmp_path / "stack.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pcpub.cli",
            "up",
            "--write-config",
            str(config),
            "--workdir",
            str(tmp_path / "work"),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not config.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        info = json.loads(config.read_text())
        for key in (
            "storageConnectionString",
            "ingestionBaseUrl",
            "publishRequestQueue",
            "clientSecret",
            "caCertPath",
        ):
            assert info[key]
        assert config.stat().st_mode & 0o077 == 0  # it holds secrets
        children = [
            int(p)
            for p in subprocess.run(
                ["pgrep", "-P", str(proc.pid)], capture_output=True, text=True
            ).stdout.split()
        ]
        assert children
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    time.sleep(1)
    for pid in children:  # stopped by PID, nothing orphaned
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        raise AssertionError(f"child {pid} outlived `pcpub up`")
