"""How the service's model binding reads a request body: JSON, one object, nested no deeper
than its serializer's default depth (System.Text.Json's and Json.NET's MaxDepth, 64).
Anything else is a 400, never an error inside the simulator: a 500 is what a client retries
as a passing fault. The service binds a write's body before its action looks anything up, so
the simulator binds it once before the route's action runs (`bound`), which then reads that."""

from __future__ import annotations

import json
from typing import Any

import httpx

MAX_DEPTH = 64
_BOUND = "pcsim_bound_body"  # where a request keeps its bound body


class BodyRefused(ValueError):
    """The body is not one the service would bind; the message is the service's reason."""


def bound(request: httpx.Request) -> dict[str, Any]:
    """The request's body as bound: read once, then kept on the request for its route."""
    body = request.extensions.get(_BOUND)
    if body is None:
        body = request.extensions[_BOUND] = _read_object(request.content)
    return body


def _read_object(content: bytes) -> dict[str, Any]:
    try:
        data = json.loads(content or b"null")
    except (ValueError, RecursionError):  # Python recurses per level; the service does not
        raise BodyRefused("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BodyRefused("A JSON object is required.")
    if _levels(data) > MAX_DEPTH:
        raise BodyRefused(
            f"The maximum configured depth of {MAX_DEPTH} has been exceeded. "
            "Cannot read next JSON object."
        )
    return data


def _levels(value: Any) -> int:
    """How many levels of containers nest in `value`, counted a level at a time."""
    levels, level = 0, [value]
    while level := [v for v in level if isinstance(v, dict | list)]:
        levels += 1
        level = [c for v in level for c in (v.values() if isinstance(v, dict) else v)]
    return levels
