"""The wire as the service speaks it: JSON answers, property names in its camelCase, and
query parameters matched the way it matches OData names."""

from __future__ import annotations

import json
from typing import Any

import httpx


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})},
    )


def param(request: httpx.Request, name: str) -> str:
    """A query parameter by case-insensitive name (the service matches OData names so); the
    values of a repeated one joined with commas."""
    return ",".join(v for k, v in request.url.params.multi_items() if k.lower() == name.lower())


def canonical(body: dict[str, Any], resource_type: str) -> dict[str, Any]:
    """Property names as the service answers them: camelCase whatever the client sent."""
    fixed = {camel(k): v for k, v in body.items()}
    fixed["resourceType"] = resource_type
    return {k: v for k, v in fixed.items() if k.lower() != "resourcetype" or k == "resourceType"}


def camel(name: str) -> str:
    """A property name as the service spells it: camelCase (`ID` -> `id`)."""
    if name.isupper():  # "ID" -> "id"
        return name.lower()
    return name[:1].lower() + name[1:]
