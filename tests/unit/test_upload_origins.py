"""Where a file may be uploaded: Partner Center's upload URI is checked against
PC_UPLOAD_ORIGINS before a byte leaves (Azure Blob storage over TLS, unless configured)."""

from __future__ import annotations

import pytest

from shared.packages import BlobPackageFiles, origin_allowed, origin_of
from shared.partnercenter.errors import MalformedAnswer
from shared.settings import Settings, SettingsError
from tests.unit.test_settings import BASE

AZURE = ("https://*.blob.core.windows.net",)
LOCAL = (*AZURE, "http://127.0.0.1:10000")


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://acct.blob.core.windows.net/c/b?sv=1&sig=x", True),
        ("https://ACCT.Blob.Core.Windows.Net/c/b", True),
        ("https://acct.blob.core.windows.net:443/c/b", True),
        ("http://127.0.0.1:10000/devstoreaccount1/c/b", True),
        ("http://acct.blob.core.windows.net/c/b", False),  # in the clear
        ("https://acct.blob.core.windows.net:8443/c/b", False),
        ("https://blob.core.windows.net/c/b", False),  # no account
        ("https://acct.blob.core.windows.net.example.com/c/b", False),
        ("https://example.com/acct.blob.core.windows.net/c", False),
        ("https://user@acct.blob.core.windows.net/c/b", False),
        ("https://169.254.169.254/metadata", False),
        ("http://127.0.0.1:10001/c/b", False),
        ("http://127.0.0.1:99999/c/b", False),  # no such port
        ("file:///etc/passwd", False),
        ("", False),
    ],
)
def test_an_upload_uri_is_on_an_allowed_origin_or_refused(url: str, allowed: bool) -> None:
    assert origin_allowed(url, LOCAL) is allowed


def test_a_refusal_names_the_origin_never_the_signature() -> None:
    assert origin_of("https://evil.example:8443/c/b?sv=1&sig=SECRET") == "https://evil.example:8443"
    assert origin_of("http://h:99999/x?sig=y") == "http://h:?"


def test_the_origins_are_production_by_default_and_checked_when_set() -> None:
    assert Settings.from_env(BASE).upload_origins == AZURE
    env = {**BASE, "PC_UPLOAD_ORIGINS": "https://*.blob.core.windows.net, HTTP://127.0.0.1:10000"}
    assert Settings.from_env(env).upload_origins == LOCAL
    for bad in ("ftp://host", "https://", "https://host/path", "http://host:99999"):
        with pytest.raises(SettingsError, match="PC_UPLOAD_ORIGINS"):
            Settings.from_env({**BASE, "PC_UPLOAD_ORIGINS": bad})


@pytest.mark.parametrize("path", ["", "/", "/container", "/container/", "//blob"])
def test_an_upload_uri_that_names_no_blob_is_a_malformed_answer(path: str) -> None:
    """An upload URI on an allowed origin with no container and blob in its path raised the
    storage SDK's ValueError, a bug's error that poisoned the message: now it is an answer to
    ask for again (transient), naming the origin only, and nothing is sent."""
    files = BlobPackageFiles(Settings.from_env(BASE))
    with pytest.raises(MalformedAnswer, match="that names no blob") as raised:
        files.upload(f"https://acct.blob.core.windows.net{path}?sv=1&sig=SECRET", b"data")
    assert raised.value.transient and "SECRET" not in str(raised.value)
    assert "'https://acct.blob.core.windows.net'" in str(raised.value)
