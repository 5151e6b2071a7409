"""Reading answers: the JSON of a 2xx, and a typed model of it; any other shape is a
MalformedAnswer (transient: the work may have been done)."""

from __future__ import annotations

from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from shared.partnercenter.errors import MalformedAnswer

M = TypeVar("M", bound=BaseModel)


def answer(response: httpx.Response) -> Any:
    """The JSON of a 2xx answer, or MalformedAnswer (transient: the work may be done)."""
    request = response.request
    try:
        return response.json()
    except ValueError:
        raise MalformedAnswer(
            f"{request.method} {request.url.path}: {response.status_code} with "
            f"{'an empty body' if not response.content else 'a body that is not JSON'}",
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
