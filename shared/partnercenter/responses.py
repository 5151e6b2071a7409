"""Reading answers: whole, within bounds of size and time; the JSON of a 2xx, and a typed
model of it; any other shape is a MalformedAnswer (transient: the work may have been done)."""

from __future__ import annotations

import time
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from shared.partnercenter.errors import MalformedAnswer
from shared.strictjson import JsonRefused, loads_answer

M = TypeVar("M", bound=BaseModel)
# An answer is read whole within these: far above any page the service answers, and above
# what a slow answer of that size takes.
MAX_ANSWER_BYTES = 32 * 2**20
ANSWER_SECONDS = 120.0
_WIRE = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def read_whole(client: httpx.Client, request: httpx.Request, seconds: float) -> httpx.Response:
    """Send `request` and read its answer whole: at most MAX_ANSWER_BYTES (decoded) and
    `seconds` from its headers to its last byte. httpx bounds each read, not the body: an
    answer trickled a chunk at a time, or a gigabyte of it, would hold the invocation (past
    functionTimeout, the worker with every invocation on it) or its memory. Too slow is a
    read timeout (a GET is tried again); too large, a MalformedAnswer."""
    streamed = client.send(request, stream=True)
    path = request.url.path
    try:
        ends = time.monotonic() + seconds
        body = bytearray()
        for chunk in streamed.iter_bytes():
            body += chunk
            if len(body) > MAX_ANSWER_BYTES:
                raise MalformedAnswer(
                    f"{request.method} {path}: an answer of over {MAX_ANSWER_BYTES >> 20} MiB",
                    method=request.method,
                    path=path,
                )
            if time.monotonic() > ends:
                raise httpx.ReadTimeout("the answer took too long", request=request)
    finally:
        streamed.close()
    return httpx.Response(
        streamed.status_code,
        headers=[(k, v) for k, v in streamed.headers.multi_items() if k.lower() not in _WIRE],
        content=bytes(body),
        request=request,
        extensions=streamed.extensions,
    )


def answer(response: httpx.Response) -> Any:
    """The JSON of a 2xx answer, or MalformedAnswer (transient: the work may be done)."""
    request = response.request
    try:
        return loads_answer(response.content)
    except (ValueError, RecursionError) as exc:  # or nested past the parser's depth
        why = f"a body that is not JSON{': ' + str(exc) if isinstance(exc, JsonRefused) else ''}"
        raise MalformedAnswer(
            f"{request.method} {request.url.path}: {response.status_code} with "
            f"{'an empty body' if not response.content else why}",
            method=request.method,
            path=request.url.path,
        ) from None


def parsed(model: type[M], source: httpx.Response | Any, method: str = "", path: str = "") -> M:
    """`model` from an answer (or one item of it); another shape is a MalformedAnswer."""
    if isinstance(source, httpx.Response):
        method, path = source.request.method, source.request.url.path
        source = answer(source)
    try:
        return model.model_validate(source)
    except ValidationError as exc:
        where = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors()[:3])
        raise MalformedAnswer(
            f"{method} {path}: the answer is not a {model.__name__} ({where})",
            method=method,
            path=path,
        ) from None


def link_in(value: object, method: str, path: str, what: str = "link") -> str:
    """A URL an answer names (a next page, a 202's Location) that can be sent: one that is no
    string, or that httpx cannot send (a control character, past its length), is a malformed
    answer, not httpx's InvalidURL, a bug's error that would poison the message."""
    if isinstance(value, str):
        try:
            httpx.URL(value)
            return value
        except httpx.InvalidURL:
            pass
    raise MalformedAnswer(f"{method} {path}: a {what} that is no link", method=method, path=path)


def upload_uri(uri: str | None, what: str) -> str:
    """The upload URI (`fileSasUri`) an answer gave for `what`. One without it is malformed:
    asked again later, as for any other shape, not a bug that poisons the message."""
    if not uri:
        raise MalformedAnswer(f"Partner Center gave no upload URI for {what}")
    return uri
