"""The mechanisms behind hostile-input handling: strict JSON, safe paths, redaction, bounded
events and dead-letter descriptions."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator

import pytest

from shared import redaction
from shared.messages import Event, EventKind
from shared.partnercenter.paths import UnsafePath, check_within, segment
from shared.pipeline.deadletter import describe_body
from shared.pipeline.events import fitted
from shared.strictjson import JsonRefused, Limits, loads_strict

BASE = "https://pc.test/v1.0/ingestion"


@pytest.fixture(autouse=True)
def clean_registry() -> Iterator[None]:
    yield
    redaction.forget_all()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"a": {"b": 1, "b": 2}}', "duplicate key 'b'"),
        (b"[NaN]", "NaN"),
        (b"[" * 20 + b"]" * 20, "nests deeper than 16"),
        (b'"' + b"x" * 40 + b'"', "longer than 30"),
        (b"[" + b"1," * 50 + b"1]", "more than 20"),
        ("{}".encode("utf-32-le"), "UTF-32LE"),
        (b"\x00{}", "UTF-16BE"),
        (b'{"a": "\\udc00"}', "surrogate"),
        (b'{"a": -1e400}', "out of range"),  # read as -inf: no JSON writes it again
    ],
)
def test_strict_json_refuses_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(JsonRefused, match=reason):
        loads_strict(body, Limits(max_keys=20, max_string=30))


def test_strict_json_never_recurses_into_a_deep_body() -> None:
    with pytest.raises(JsonRefused, match="deeper"):
        loads_strict(b"[" * 45_000, Limits(max_bytes=50_000))


def test_strict_json_reads_what_json_reads() -> None:
    assert loads_strict('{"a": [1, 2.5, "é", {"b": null}], "c": true}') == {
        "a": [1, 2.5, "é", {"b": None}],
        "c": True,
    }


@pytest.mark.parametrize("value", ["", ".", "..", "a\x00b", "i" * 1001])
def test_a_dot_or_empty_segment_is_refused(value: str) -> None:
    """An id far longer than any Partner Center gives (an answer's draft instance id of
    100,000 characters) made a URL httpx refused: InvalidURL, a bug's error."""
    with pytest.raises(UnsafePath):
        segment(value)
    assert segment("i" * 1000) == "i" * 1000


def test_segments_are_percent_encoded() -> None:
    assert segment("a/../b?c#d") == "a%2F..%2Fb%3Fc%23d"
    assert segment("instance id=1") == "instance%20id%3D1"


@pytest.mark.parametrize(
    "url",
    [
        "https://pc.test/v1.0/ingestion/../../admin",
        "https://pc.test/v1.0/ingestion/%2e%2e/%2e%2e/admin",
        "https://pc.test/v1.0/other",
        "https://evil.test/v1.0/ingestion/products",
        "http://pc.test/v1.0/ingestion/products",
    ],
)
def test_urls_outside_the_api_are_refused(url: str) -> None:
    with pytest.raises(UnsafePath):
        check_within(url, BASE)


def test_registered_secrets_and_token_shapes_are_scrubbed() -> None:
    redaction.register("live-client-secret-123", "short")
    text = (
        "secret live-client-secret-123, Authorization: Bearer abcdefghijklmnopqrstuvwxyz, "
        "https://a.blob.core.windows.net/c/b?sv=1&sig=SIGNATURE&se=2, "
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxMjM0NTY3ODkwIn0.x, short stays"
    )
    clean = redaction.scrub(text)
    for leaked in ("live-client-secret-123", "abcdefghijklmnop", "SIGNATURE", "eyJzdWIi"):
        assert leaked not in clean
    assert "short stays" in clean


@pytest.mark.parametrize(
    "text",
    [
        "BEARER abcdefghijklmnopqrstuvwxyz",
        "https://x.blob.core.windows.net/c/b?SIG=SIGNATURE123",
        '{"Client_Secret": "SIGNATURE123"}',
        "token eyJhbGciOiJub25lIn0.eyJzdWIiOiIxMjM0NTY3ODkwIn0.x",
    ],
)
def test_token_shapes_are_scrubbed_in_any_case(text: str) -> None:
    """The patterns run only on texts that carry one of their cues, found in any case."""
    clean = redaction.scrub(text)
    assert "abcdefghijklmnop" not in clean and "SIGNATURE" not in clean
    assert "eyJzdWIi" not in clean


def test_every_log_record_is_scrubbed(caplog: pytest.LogCaptureFixture) -> None:
    redaction.install()
    redaction.register("another-live-secret-456")
    log = logging.getLogger("some.library")
    with caplog.at_level(logging.INFO):
        log.info("value %s", "another-live-secret-456")
        try:
            raise RuntimeError("boom another-live-secret-456")
        except RuntimeError:
            log.exception("failed")
    assert "another-live-secret-456" not in caplog.text
    assert caplog.text.count("***") >= 2


def test_an_oversize_event_is_trimmed_not_dropped() -> None:
    event = Event(
        kind=EventKind.FAILED,
        request_id="r-1",
        reason="x" * 60_000,
        labels={f"k{i}": "v" * 256 for i in range(20)},
        at="now",
    )
    text = fitted(event, limit=4_000)
    assert len(text.encode()) <= 4_000
    assert '"trimmed":true' in text
    assert '"kind":"failed"' in text and '"requestId":"r-1"' in text


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ("not base64 at all!", "not base64"),
        (base64.b64encode(b"\xff\xfe\x00").decode(), "not UTF-8"),
        (base64.b64encode(b'{"v": 1}').decode(), ""),
        ("é" * 10, "not base64"),
    ],
)
def test_a_dead_letter_describes_any_body(content: str, error: str) -> None:
    facts = describe_body(content)
    assert (facts["decode_error"] or "").startswith(error)
    assert len(facts["sha256"]) == 64
    assert len(facts["preview"]) <= 500
