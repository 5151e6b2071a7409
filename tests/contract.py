"""Checks a simulator response against the ingestion API's OpenAPI document (read from
../shared/reference, when it is there), allowing the live differences the notes document:
`nextLink` beside (or instead of) `@odata.nextLink`, and error bodies as JSON strings, objects
or nothing."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

SPEC = (
    Path(__file__).resolve().parents[2] / "shared" / "reference" / "partner-ingestion-openapi.json"
)
PREFIX = "/v1.0/ingestion"


@cache
def spec() -> dict[str, Any] | None:
    if not SPEC.exists():
        return None
    data: dict[str, Any] = json.loads(SPEC.read_text())
    return data


@cache
def _operations() -> list[tuple[re.Pattern[str], str, dict[str, Any]]]:
    doc = spec()
    assert doc is not None
    found = []
    for template, item in doc["paths"].items():
        escaped = re.escape(template)
        pattern = (
            re.sub(r"\\\{[^}]+\\\}", r"[^/]+", escaped.replace(r"\(", "(").replace(r"\)", ")"))
            .replace("(", r"\(")
            .replace(")", r"\)")
        )
        for method, operation in item.items():
            found.append((re.compile(f"^{pattern}$", re.IGNORECASE), method.upper(), operation))
    return found


def _deref(node: dict[str, Any]) -> dict[str, Any]:
    doc = spec()
    assert doc is not None
    while "$ref" in node:
        target: Any = doc
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def problems(method: str, path: str, status: int, body: bytes) -> list[str]:
    """What in this response contradicts the document (empty when it conforms)."""
    doc = spec()
    if doc is None or not path.lower().startswith(PREFIX):
        return []
    rel = path[len(PREFIX) :]
    matches = [op for pattern, m, op in _operations() if m == method and pattern.match(rel)]
    if not matches:
        return [f"{method} {rel}: not an operation of the document"]
    operation = matches[0]
    responses = operation.get("responses", {})
    declared = responses.get(str(status)) or responses.get("default")
    if declared is None:
        return [f"{method} {rel}: status {status} not declared"]
    if status >= 400:
        return []  # error bodies: string per the document; object or empty seen live
    content = _deref(declared).get("content", {}).get("application/json")
    if content is None or not body:
        return []
    schema = {**content["schema"], "components": doc["components"]}
    data = json.loads(body)
    validator = jsonschema.Draft4Validator(schema)
    return [
        f"{method} {rel} {status}: {'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(data)
    ]
