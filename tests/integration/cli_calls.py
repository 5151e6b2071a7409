"""Calling `pcpub` as an operator would, against a stack's storage or a dead address."""

from __future__ import annotations

import pytest

from pcpub.azurite import DEV_KEY, AzuritePorts
from pcpub.cli import main


def connection(ports: AzuritePorts, key: str = DEV_KEY) -> str:
    """The storage connection string of `ports`, with `key` for the account's."""
    return ports.connection_string.replace(DEV_KEY, key)


def cli(azurite: AzuritePorts, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """Run `pcpub argv` on the stack's storage: its exit code and all it printed."""
    code = main([*argv, "--connection-string", azurite.connection_string])
    captured = capsys.readouterr()
    return code, captured.out + captured.err
