"""The mechanisms behind hostile-input handling: strict JSON, safe paths, redaction, bounded
events and dead-letter descriptions."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterator

import httpx
import pytest

from shared import redaction
from shared.messages import Event, EventKind
from shared.partnercenter.client import PartnerCenterClient
from shared.partnercenter.errors import MalformedAnswer
from shared.partnercenter.lookup import ProductIngestionLookup
from shared.partnercenter.paths import UnsafePath, check_within, segment
from shared.partnercenter.transport import MAX_PAGES
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


class Tokens:
    def token(self) -> str:
        return "t" * 20

    def invalidate(self) -> None:
        pass


@pytest.mark.parametrize(
    ("next_link", "calls"),
    [
        (lambda n: "v1.0/ingestion/products/p1/submissions?$skipToken=a", 2),  # a cycle
        (lambda n: {"href": "x"}, 1),  # no link
        (lambda n: 7, 1),
        (lambda n: f"v1.0/ingestion/products/p1/submissions?$skipToken={n}", MAX_PAGES),
    ],
)
def test_a_listing_that_never_ends_is_a_malformed_answer(
    next_link: Callable[[int], object], calls: int
) -> None:
    """Followed, a next link that names a page already read (or a new page each time) would
    spend the tenant's budget without end; one that is no link raised a bug's error."""
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(str(request.url))
        return httpx.Response(200, json={"value": [], "nextLink": next_link(len(sent))})

    client = PartnerCenterClient(BASE, Tokens(), transport=httpx.MockTransport(handler))
    with pytest.raises(MalformedAnswer, match="GET products/p1/submissions: "):
        client.submissions("p1")
    assert len(sent) == calls


@pytest.mark.parametrize("key", ["nextLink", "@odata.nextLink", "@nextLink", "NextLink"])
@pytest.mark.parametrize(
    "link",
    [
        "v1.0/ingestion/products/p1/submissions?$skipToken=b",  # as the live service writes it
        "/v1.0/ingestion/products/p1/submissions?$skipToken=b",
        "https://pc.test/v1.0/ingestion/products/p1/submissions?$skipToken=b",
    ],
)
def test_every_form_of_a_next_link_reaches_the_next_page(key: str, link: str) -> None:
    """A next link the client reads wrong ends a listing early without a word (a later page's
    404 is taken as the end): an offer on page two would be unknown."""
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(str(request.url))
        first = len(sent) == 1
        item = {"state": "Published", "substate": "InStore"}
        page = {"value" if first else "Value": [{**item, "id": "s1" if first else "s2"}]}
        return httpx.Response(200, json={**page, key: link} if first else page)

    client = PartnerCenterClient(BASE, Tokens(), transport=httpx.MockTransport(handler))
    assert [s.id for s in client.submissions("p1")] == ["s1", "s2"]
    assert sent[1] == "https://pc.test/v1.0/ingestion/products/p1/submissions?$skipToken=b"


UNSENDABLE = [
    "v1.0/ingestion/products/p1/submissions?$skipToken=a\nb",
    "v1.0/ingestion/products/p1/sub\x00missions",
    "v1.0/ingestion/products/p1/submissions?$skipToken=\t",
    "v1.0/ingestion/products/p1/submissions?$skipToken=\x7f",
    "v1.0/ingestion/products/p1/submissions?$skipToken=" + "a" * 70_000,
]


@pytest.mark.parametrize("link", UNSENDABLE)
def test_a_link_that_cannot_be_sent_is_a_malformed_answer(link: str) -> None:
    """A next page or a 202's Location with a control character in it (or past httpx's
    length) raised httpx's InvalidURL, a bug's error that poisoned the message five times."""
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        if request.url.path.endswith("/submissions"):
            return httpx.Response(200, json={"value": [], "nextLink": link})
        return httpx.Response(
            202, headers={"Location": link.replace("\n", "\t").replace("\x00", "\t")}
        )

    client = PartnerCenterClient(BASE, Tokens(), transport=httpx.MockTransport(handler))
    with pytest.raises(MalformedAnswer, match="GET products/p1/submissions: a next link that is"):
        client.submissions("p1")
    assert sent == ["/v1.0/ingestion/products/p1/submissions"]  # the next page: not asked
    if "\x7f" not in link and len(link) < 1000:  # what a header can carry
        with pytest.raises(MalformedAnswer, match="GET products/p1: a Location that is no link"):
            client.get_product("p1")
        assert sent[1:] == ["/v1.0/ingestion/products/p1"]  # the Location: not asked


@pytest.mark.parametrize(
    "location", ["https://evil.test/v1.0/ingestion/products/p1", "v1.0/ingestion/../../admin"]
)
def test_a_not_ready_answer_is_followed_only_within_the_api(location: str) -> None:
    """A 202's Location is asked with the bearer token: outside the API it is refused."""
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(str(request.url))
        return httpx.Response(202, headers={"Location": location, "Retry-After": "0"})

    client = PartnerCenterClient(BASE, Tokens(), transport=httpx.MockTransport(handler))
    with pytest.raises(UnsafePath):
        client.get_product("p1")
    assert sent == ["https://pc.test/v1.0/ingestion/products/p1"]


def test_the_client_sends_nothing_outside_the_api() -> None:
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(str(request.url))
        page = {"value": [], "nextLink": "v1.0/ingestion/../../steal?$skipToken=x"}
        return httpx.Response(200, json=page)

    client = PartnerCenterClient(BASE, Tokens(), transport=httpx.MockTransport(handler))
    with pytest.raises(UnsafePath):
        client.get_product("..")
    with pytest.raises(UnsafePath):
        client.submissions("p1")  # the service's nextLink would climb out
    assert sent == ["https://pc.test/v1.0/ingestion/products/p1/submissions"]
    with pytest.raises(MalformedAnswer):  # the fake's page is no submission
        client.get_submission("p/1", "2?x")
    assert sent[-1] == "https://pc.test/v1.0/ingestion/products/p%2F1/submissions/2%3Fx"


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


@pytest.mark.parametrize("etag", ['"caf\u00e9"', '"a\nb"', '"\x00"'])
def test_an_etag_that_cannot_go_back_in_a_header_is_a_malformed_answer(etag: str) -> None:
    """A draft's ETag is sent back as If-Match on its write: one past ASCII raised httpx's
    UnicodeEncodeError there, a bug's error that poisoned the message."""
    listing = {"id": "l1", "resourceType": "AzureListing", "@odata.etag": etag, "title": "T"}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"value": [listing]})

    client = PartnerCenterClient(BASE, Tokens(), transport=httpx.MockTransport(handler))
    with pytest.raises(MalformedAnswer, match="the answer is not a Draft"):
        client.drafts("p1", "listings", "i1")
    listing["@odata.etag"] = '"ok-1"'
    assert [d.etag for d in client.drafts("p1", "listings", "i1")] == ['"ok-1"']


@pytest.mark.parametrize(
    ("literal", "reason"),
    [
        (b"1e400", "a number is out of range"),
        (b"NaN", "NaN is not a JSON number"),
        (b"-Infinity", "-Infinity is not a JSON number"),
        (b'"\\ud800"', "a string holds a lone UTF-16 surrogate"),
        (b'"x \\udfff"', "a string holds a lone UTF-16 surrogate"),
    ],
)
def test_an_answer_that_could_not_be_written_back_is_a_malformed_answer(
    literal: bytes, reason: str
) -> None:
    """Python's json reads NaN, 1e400 (as inf) and lone surrogates; a draft holding one was
    read and then failed its write back with a bug's error (httpx's ValueError for a
    non-finite number, UnicodeEncodeError for a surrogate), poisoning the message."""
    body = b'{"value": [{"id": "l1", "resourceType": "AzureListing", "@odata.etag": "e", '
    body += b'"extra": ' + literal + b"}]}"
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.method)
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})

    client = PartnerCenterClient(BASE, Tokens(), transport=httpx.MockTransport(handler))
    with pytest.raises(MalformedAnswer, match=f"a body that is not JSON: {reason}"):
        client.drafts("p1", "listings", "i1")
    assert sent == ["GET"]
    fine = b'{"value": [{"id": "l1", "resourceType": "AzureListing", "@odata.etag": "e", '
    body = fine + b'"extra": "\\ud83d\\ude00", "n": 1e308}]}'  # a pair, and a big number
    [draft] = client.drafts("p1", "listings", "i1")
    assert draft.body["extra"] == "\U0001f600" and draft.body["n"] == 1e308


def test_an_id_longer_than_a_path_may_hold_is_a_malformed_answer() -> None:
    """A submission id of 100,000 characters would be recorded on the run and then refused
    in every path it went into: the answer that gives it is malformed instead."""

    def handler(request: httpx.Request) -> httpx.Response:
        sub = {"id": "9" * 100_000, "state": "Published", "substate": "InStore"}
        return httpx.Response(200, json={"value": [sub]})

    client = PartnerCenterClient(BASE, Tokens(), transport=httpx.MockTransport(handler))
    with pytest.raises(MalformedAnswer, match="the answer is not a Submission"):
        client.submissions("p1")


@pytest.mark.parametrize("sid", ["12/34", "12#3", "1?2", "1\\2", "1\x852"])
def test_an_id_no_ledger_key_can_hold_is_a_malformed_answer(sid: str) -> None:
    """The ledger keys a submission's row by product and submission id; Table storage refuses
    / \\ # ? and control characters in a key (Azurite answers 400 or 500), so such an id from
    an answer failed the row's write after the submission was made, with a storage error."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(202, json={"id": sid, "state": "Published", "substate": "x"})

    client = PartnerCenterClient(BASE, Tokens(), transport=httpx.MockTransport(handler))
    with pytest.raises(MalformedAnswer, match="the answer is not a Submission"):
        client.create_submission("p1", {})


def test_a_product_ingestion_id_that_is_no_guid_is_a_malformed_answer() -> None:
    guid = "6ffc1c93-9211-5da4-bb58-8f1c2aa9b4d7"
    found = {"id": f"product/{guid}", "identity": {"externalId": "contoso-app"}}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"value": [found]})

    client = PartnerCenterClient(BASE, Tokens(), transport=httpx.MockTransport(handler))
    lookup = ProductIngestionLookup(client)
    assert lookup.product_ids("contoso-app") == [guid]
    found["id"] = "product/abc/../def"
    with pytest.raises(MalformedAnswer, match="a product id that is no GUID"):
        lookup.product_ids("contoso-app")
