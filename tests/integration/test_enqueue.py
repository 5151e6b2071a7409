"""`pcpub enqueue`: exactly the bytes it validated go on the queue, and every refusal is one
line on stderr, never a traceback."""

from __future__ import annotations

import base64
import contextlib
from pathlib import Path

import pytest
from azure.core.exceptions import ResourceNotFoundError

from pcpub.cli import main
from shared.queues import PUBLISH_REQUESTS
from shared.settings import Settings
from shared.storage import queue_client

BODY = (
    b'{ "schemaVersion": 1,\n  "requestId": "enqueue-exact-1", "offer": {"externalId": '
    b'"contoso-backup"}, "target": "preview", "requestedBy": "Caf\xc3\xa9" }'
)


def test_the_bytes_validated_are_the_bytes_sent(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = queue_client(settings, PUBLISH_REQUESTS, raw=True)
    with contextlib.suppress(ResourceNotFoundError):
        raw.clear_messages()
    request = tmp_path / "request.json"
    request.write_bytes(BODY)
    assert settings.storage_connection
    assert main(["enqueue", str(request), "--connection-string", settings.storage_connection]) == 0
    assert "enqueued enqueue-exact-1" in capsys.readouterr().out
    [message] = raw.peek_messages(32)
    assert base64.b64decode(message.content) == BODY


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"\xef\xbb\xbf{}", "byte-order mark"),
        (b'{"schemaVersion": 1, "schemaVersion": 1}', "duplicate key"),
        (b"[1]", "JSON object"),
    ],
)
def test_a_refusal_is_one_line(
    settings: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    body: bytes,
    says: str,
) -> None:
    request = tmp_path / "bad.json"
    request.write_bytes(body)
    assert settings.storage_connection
    code = main(["enqueue", str(request), "--connection-string", settings.storage_connection])
    err = capsys.readouterr().err
    assert code == 2
    assert says in err and err.count("\n") == 1 and "Traceback" not in err


def test_a_missing_file_is_one_line(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert settings.storage_connection
    code = main(
        ["enqueue", "/nonexistent/x.json", "--connection-string", settings.storage_connection]
    )
    err = capsys.readouterr().err
    assert code == 2 and "cannot read" in err and err.count("\n") == 1
