"""The client's retry, error and paging rules, against scripted answers in front of the
simulator (httpx.MockTransport: no sockets)."""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from pcsim.app import Simulator
from shared.partnercenter import responses
from shared.partnercenter.errors import (
    BadRequest,
    Conflict,
    MalformedAnswer,
    NotFound,
    ServerError,
    TransportError,
    Unauthorized,
    service_message,
)
from shared.partnercenter.models import Product
from shared.partnercenter.retries import parse_retry_after
from tests.conftest import SimTokens, make_client

Handler = Callable[[httpx.Request], httpx.Response]


def scripted(
    sim: Simulator, answers: list[httpx.Response | Exception], only: str = ""
) -> tuple[Handler, list[httpx.Request]]:
    """Answer the first calls (whose path contains `only`) from `answers`, then the simulator."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if only in request.url.path and answers:
            seen.append(request)
            answer = answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        seen.append(request)
        return sim.transport(request)

    return handler, seen


def product_id(sim: Simulator) -> str:
    return next(iter(sim.world.products))


def test_429_honours_retry_after_then_succeeds(sim: Simulator) -> None:
    handler, seen = scripted(
        sim, [httpx.Response(429, json="Request rate exceeds limit", headers={"Retry-After": "3"})]
    )
    client = make_client(handler, SimTokens(sim))
    assert client.get_product(product_id(sim)).id == product_id(sim)
    assert client.sleeps == [3.0]  # type: ignore[attr-defined]
    assert len(seen) == 2


def test_get_retries_5xx_and_resets_with_backoff(sim: Simulator) -> None:
    answers: list[httpx.Response | Exception] = [
        httpx.Response(503),
        httpx.ConnectError("reset"),
        httpx.Response(500, content=b""),
    ]
    handler, _ = scripted(sim, answers)
    client = make_client(handler, SimTokens(sim))
    assert client.get_product(product_id(sim)).id == product_id(sim)
    assert len(client.sleeps) == 3  # type: ignore[attr-defined]


def test_post_is_never_blindly_repeated(sim: Simulator) -> None:
    handler, seen = scripted(
        sim, [httpx.Response(500, json="boom"), httpx.ReadTimeout("slow")], only="/submissions"
    )
    client = make_client(handler, SimTokens(sim))
    with pytest.raises(ServerError):
        client.create_submission(product_id(sim), {"resourceType": "SubmissionCreationRequest"})
    with pytest.raises(TransportError):
        client.create_submission(product_id(sim), {"resourceType": "SubmissionCreationRequest"})
    assert len(seen) == 2


def test_401_refreshes_the_token_once(sim: Simulator) -> None:
    tokens = SimTokens(sim)
    handler, _ = scripted(sim, [httpx.Response(401, json="token expired")])
    client = make_client(handler, tokens)
    client.get_product(product_id(sim))
    assert tokens.invalidated == 1


def test_401_for_a_fresh_token_says_the_app_is_not_associated(sim: Simulator) -> None:
    tokens = SimTokens(sim)
    handler, seen = scripted(sim, [httpx.Response(401, json="Unauthorized")] * 2)
    client = make_client(handler, tokens)
    with pytest.raises(Unauthorized, match="not added to the Partner Center account"):
        client.get_product(product_id(sim))
    assert tokens.invalidated == 1  # one refresh, no hot loop
    assert len(seen) == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'"Product request failed, API=GetProduct"', "Product request failed, API=GetProduct"),
        (b'{"code": "BadRequest", "message": "no"}', "BadRequest: no"),
        (b"", ""),
        (b"<html>gateway</html>", "<html>gateway</html>"),
        (  # as the live service words a missing If-Match: one line, for tables and terminals
            b'"Value cannot be null.\\r\\nParameter name: IfMatch"',
            "Value cannot be null. Parameter name: IfMatch",
        ),
        (b'{"message": "\\u001b[2J\\u009b31mgone"}', "[2J31mgone"),
        # a lone surrogate: no UTF-8 holds it, and the reason is stored and sent in events
        (b'"bad \\ud800 thing \\ud83d\\ude00"', "bad ? thing \U0001f600"),
    ],
    ids=["string", "object", "empty", "text", "crlf", "escapes", "surrogate"],
)
def test_error_bodies_of_every_shape(sim: Simulator, body: bytes, message: str) -> None:
    assert service_message(body) == message
    message.encode("utf-8")
    handler, _ = scripted(sim, [httpx.Response(400, content=body, headers={"Request-ID": "req-1"})])
    client = make_client(handler, SimTokens(sim))
    with pytest.raises(BadRequest) as caught:
        client.get_product(product_id(sim))
    assert caught.value.service_message == message
    assert caught.value.request_id == "req-1"
    assert caught.value.client_request_id
    assert "Bearer" not in str(caught.value)


def test_conflict_names_the_running_submission() -> None:
    err = Conflict(
        409,
        "Submission 1152921505695125001 is in progress",
        method="POST",
        path="p",
        request_id=None,
        client_request_id=None,
    )
    assert err.running_submission_id == "1152921505695125001"


def test_paging_follows_relative_next_links_and_stops_on_a_404(sim: Simulator) -> None:
    sim.world.page_size = 1
    sim.live.offer_listing = "v1"  # the document's listing, which pages
    client = make_client(sim.transport, SimTokens(sim))
    products = list(client._paged("products", Product))
    assert len(products) == len(sim.world.products)
    pages = [r for r in sim.request_log() if r["path"].endswith("/products")]
    assert len(pages) == len(sim.world.products)
    assert all("skipToken" in r["query"] for r in pages[1:])

    calls = {"n": 0}

    def later_page_404(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        return httpx.Response(404, json="gone") if calls["n"] > 1 else sim.transport(request)

    client = make_client(later_page_404, SimTokens(sim))
    assert len(list(client._paged("products", Product))) == 1


def test_not_found_is_typed(sim: Simulator) -> None:
    client = make_client(sim.transport, SimTokens(sim))
    with pytest.raises(NotFound):
        client.get_product("missing")


def test_parse_retry_after() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("nan") is None
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after("inf") == parse_retry_after("86400") == 3600.0  # an hour at most
    assert parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT") == 3600.0


def test_errors_record_the_service_ids(sim: Simulator) -> None:
    answer = httpx.Response(
        400, json="nope", headers={"Request-ID": "req-123", "ms-correlation-x": "corr-456"}
    )
    handler, _ = scripted(sim, [answer])
    client = make_client(handler, SimTokens(sim))
    with pytest.raises(BadRequest) as caught:
        client.get_product(product_id(sim))
    assert caught.value.request_id == "req-123"
    assert caught.value.correlation_id == "corr-456"
    assert "Request-ID req-123, ms-correlation-x corr-456" in str(caught.value)


def trickled(body: bytes, pause: float) -> Iterator[bytes]:
    """An answer's body a few bytes at a time, each well within any read timeout."""
    for start in range(0, len(body), 4):
        time.sleep(pause)
        yield body[start : start + 4]


def product_body(sim: Simulator) -> bytes:
    """The product's answer as the simulator gives it."""
    plain = make_client(sim.transport, SimTokens(sim))
    return plain.request("GET", f"products/{product_id(sim)}").content


def test_an_answer_trickled_past_its_time_is_a_timeout_and_a_get_is_tried_again(
    sim: Simulator,
) -> None:
    product, body = product_id(sim), product_body(sim)
    slow = [httpx.Response(200, content=trickled(body, 0.05)) for _ in range(2)]
    handler, seen = scripted(sim, list(slow), only=f"/products/{product}")
    client = make_client(handler, SimTokens(sim), answer_seconds=0.5)
    started = time.monotonic()
    assert client.get_product(product).id == product  # the third answer comes whole
    assert len(seen) == 3
    assert time.monotonic() - started < 3  # each trickle is cut off at 0.5 s, not read on
    trickling = make_client(
        lambda _: httpx.Response(200, content=trickled(body, 0.05)),
        SimTokens(sim),
        answer_seconds=0.5,
    )
    with pytest.raises(TransportError, match="ReadTimeout"):
        trickling.get_product(product)


def test_an_answer_too_large_to_hold_is_malformed(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(responses, "MAX_ANSWER_BYTES", 1024)
    huge = b'{"id": "' + b"x" * 4000 + b'"}'
    client = make_client(lambda _: httpx.Response(200, content=iter([huge])), SimTokens(sim))
    with pytest.raises(MalformedAnswer, match="an answer of over"):
        client.get_product(product_id(sim))


def test_an_answer_nested_past_the_parsers_depth_is_malformed(sim: Simulator) -> None:
    """200 KB of brackets: Python's JSON parser gives up with RecursionError, not ValueError;
    as an answer it is malformed, as an error body it is text (neither a crash of the stage)."""
    nested = b"[" * 100_000 + b"]" * 100_000
    product = product_id(sim)
    handler, _ = scripted(sim, [httpx.Response(200, content=nested)], only=f"/products/{product}")
    with pytest.raises(MalformedAnswer, match="a body that is not JSON"):
        make_client(handler, SimTokens(sim)).get_product(product)
    handler, _ = scripted(sim, [httpx.Response(400, content=nested)], only=f"/products/{product}")
    with pytest.raises(BadRequest) as caught:
        make_client(handler, SimTokens(sim)).get_product(product)
    assert caught.value.service_message == "[" * 2000


def test_a_compressed_answer_is_read_decoded(sim: Simulator) -> None:
    product, body = product_id(sim), product_body(sim)
    packed = httpx.Response(200, content=gzip.compress(body), headers={"Content-Encoding": "gzip"})
    handler, _ = scripted(sim, [packed], only=f"/products/{product}")
    assert make_client(handler, SimTokens(sim)).get_product(product).id == product
