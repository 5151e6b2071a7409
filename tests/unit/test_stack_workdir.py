"""A local stack's temporary directory (logs, Azurite's data, the simulator's CA key) goes
with it when it stops cleanly, and stays when there is something to read in it; a directory
the caller named is never removed."""

from __future__ import annotations

import shutil
from pathlib import Path

from pcpub.stack import LocalStack


def test_its_own_directory_goes_with_a_clean_stop() -> None:
    stack = LocalStack()
    assert stack.workdir.is_dir() and stack.workdir.name.startswith("pcpub-stack-")
    stack.stop()
    assert not stack.workdir.exists()


def test_a_named_directory_stays(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path / "mine")
    (stack.workdir / "host.log").write_text("kept\n")
    stack.stop()
    assert (tmp_path / "mine" / "host.log").read_text() == "kept\n"


def test_a_stack_left_by_an_exception_keeps_its_logs() -> None:
    stack = LocalStack()
    (stack.workdir / "host.log").write_text("why\n")
    try:
        stack.__exit__(RuntimeError, RuntimeError("boom"), None)
        assert (stack.workdir / "host.log").read_text() == "why\n"
    finally:
        shutil.rmtree(stack.workdir)


def test_kept_on_request() -> None:
    stack = LocalStack()
    kept = stack.keep_workdir()
    stack.stop()
    assert kept.is_dir()
    shutil.rmtree(kept)
