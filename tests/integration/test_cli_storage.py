"""Every storage command of `pcpub` says in one line when the storage it was pointed at is out
of reach (a stopped stack, a stale `--config`) or refuses it (a wrong key), never with the
SDK's traceback and never with the key."""

from __future__ import annotations

import base64

import pytest

from pcpub.azurite import DEV_KEY, AzuritePorts
from pcpub.cli import main
from pcpub.processes import free_ports

COMMANDS = [
    ["status", "some-run"],
    ["runs"],
    ["approve", "some-run"],
    ["release", "status", "some-release"],
    ["poison", "list"],
]


def _connection(ports: AzuritePorts, key: str = DEV_KEY) -> str:
    return ports.connection_string.replace(DEV_KEY, key)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
def test_storage_out_of_reach_is_one_line(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    nobody = AzuritePorts(*free_ports(3))  # nothing listens there
    code = main([*command, "--connection-string", _connection(nobody)])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("pcpub: cannot reach the storage account: ") and err.count("\n") == 1
    assert "Traceback" not in err and DEV_KEY not in err


@pytest.mark.parametrize("command", COMMANDS[:2], ids=lambda c: " ".join(c))
def test_a_wrong_key_is_one_line_without_the_key(
    command: list[str], azurite: AzuritePorts, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = base64.b64encode(b"not the account's key, 64 bytes long........................")
    key = wrong.decode()
    code = main([*command, "--connection-string", _connection(azurite, key)])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("pcpub: the storage account refused (403): ") and err.count("\n") == 1
    assert key not in err
