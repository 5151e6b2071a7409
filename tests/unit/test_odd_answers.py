"""Answers the client must not follow, send back or store as they are: next links and
Locations that leave the API, never end or cannot be sent; ETags, numbers, text and ids that
no header, JSON write, path or Table storage key can carry. Each is a typed error (a malformed
answer, retried, or a refusal) before anything is sent, never a bug's error."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from shared.partnercenter.client import PartnerCenterClient
from shared.partnercenter.errors import MalformedAnswer
from shared.partnercenter.lookup import ProductIngestionLookup
from shared.partnercenter.models import Submission
from shared.partnercenter.paths import UnsafePath
from shared.partnercenter.transport import MAX_PAGES
from shared.pipeline.package_config import version_key
from shared.pipeline.submission_state import newest_submission

BASE = "https://pc.test/v1.0/ingestion"


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
        # 3 levels around it: 65 in all, one past what the service's serializer writes
        (b"[" * 62 + b"]" * 62, "an answer nests deeper than 64 levels"),
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
    deep = b"[" * 61 + b"]" * 61  # 64 levels in all
    body = fine + b'"extra": "\\ud83d\\ude00", "n": 1e308, "deep": ' + deep + b"}]}"
    [draft] = client.drafts("p1", "listings", "i1")  # a pair, a big number, 64 levels
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


def test_numbers_written_in_other_scripts_neither_raise_nor_sort_as_numbers() -> None:
    """`str.isdigit()` holds for '²', which `int()` refuses: an app version or a submission id
    holding one raised a ValueError (a bug's error) where an odd value was meant to be passed
    over."""
    assert version_key("1.\u00b2") is None and version_key("1.2") == (1, 2, 0, 0)
    subs = [
        Submission.model_validate({"id": i, "state": "Published", "substate": "InStore"})
        for i in ("\u00b2", "7", "12")
    ]
    newest = newest_submission(subs)
    assert newest is not None and newest.id == "12"
