"""The client's retry, error and paging rules, against scripted answers in front of the
simulator (httpx.MockTransport: no sockets)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from pcsim.app import Simulator
from shared.partnercenter.errors import (
    BadRequest,
    Conflict,
    NotFound,
    ServerError,
    TransportError,
    Unauthorized,
    service_message,
)
from shared.partnercenter.models import Product
from shared.partnercenter.transport import parse_retry_after
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
    ],
)
def test_error_bodies_of_every_shape(sim: Simulator, body: bytes, message: str) -> None:
    assert service_message(body) == message
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
