"""Checks the simulator's answers against the ingestion API's OpenAPI document, so a
behaviour added to the simulator cannot drift from what the service's contract says unnoticed.

Given the document (`pcpub simulator --contract FILE`), every ingestion answer is checked as it
is sent, and `GET /_admin/contract` lists what contradicted it. Allowed, because the live
service does it (live-service-2026.md): `nextLink` beside (or instead of) `@odata.nextLink`;
error bodies as JSON strings, objects or nothing; 202 on submission create; 404 on
workflowdetails during preview; the ResellerConfiguration module, which the document omits;
availability audiences as `{type, values}` objects.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import jsonschema

PREFIX = "/v1.0/ingestion"
# (method, path pattern) -> statuses the live service answers that the document lacks, and
# the documented status whose body they carry.
LIVE_STATUSES = {
    ("POST", re.compile(r"^/products/[^/]+/submissions$", re.I)): {202: "201"},
    ("GET", re.compile(r"^/products/[^/]+/submissions/[^/]+/workflowdetails$", re.I)): {404: ""},
}


# Values the live service uses that the document's enums lack.
LIVE_VALUES = frozenset({"ResellerConfiguration"})


class Contract:
    """The OpenAPI document, and what contradicted it so far."""

    def __init__(self, document: Path) -> None:
        self.doc: dict[str, Any] = json.loads(document.read_text())
        self.checked = 0
        self.found: list[str] = []
        self._lock = threading.Lock()

    def observe(self, method: str, path: str, status: int, body: bytes) -> None:
        problems = self.problems(method, path, status, body)
        with self._lock:
            self.checked += 1
            self.found.extend(p for p in problems if p not in self.found)
            del self.found[200:]

    def problems(self, method: str, path: str, status: int, body: bytes) -> list[str]:
        """What in this response contradicts the document (empty when it conforms)."""
        return problems(self.doc, method, path, status, body)


def _operations(doc: dict[str, Any]) -> list[tuple[re.Pattern[str], str, dict[str, Any]]]:
    key = id(doc)
    if key not in _OPERATIONS:
        _OPERATIONS[key] = _compile(doc)
    return _OPERATIONS[key]


_OPERATIONS: dict[int, list[tuple[re.Pattern[str], str, dict[str, Any]]]] = {}


def _compile(doc: dict[str, Any]) -> list[tuple[re.Pattern[str], str, dict[str, Any]]]:
    found = []
    for template, item in doc["paths"].items():
        escaped = re.escape(template)
        pattern = (
            re.sub(r"\\\{[^}]+\\\}", r"[^/]+", escaped.replace(r"\(", "(").replace(r"\)", ")"))
            .replace("(", r"\(")
            .replace(")", r"\)")
        )
        for method, operation in item.items():
            tagged = {**operation, "x-template": template}
            found.append((re.compile(f"^{pattern}$", re.IGNORECASE), method.upper(), tagged))
    return found


def operation_of(doc: dict[str, Any], method: str, path: str) -> str | None:
    """The document's template for a call (the most specific match), or None."""
    rel = path[len(PREFIX) :] if path.lower().startswith(PREFIX) else path
    matches = [
        (-len(pattern.pattern.replace("[^/]+", "")), str(op["x-template"]))
        for pattern, m, op in _operations(doc)
        if m == method and pattern.match(rel)
    ]
    return min(matches)[1] if matches else None


def _deref(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = doc
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def problems(doc: dict[str, Any], method: str, path: str, status: int, body: bytes) -> list[str]:
    """What in this response contradicts the document (empty when it conforms)."""
    if not path.lower().startswith(PREFIX):
        return []
    rel = path[len(PREFIX) :]
    matches = [
        (-len(pattern.pattern.replace("[^/]+", "")), op)
        for pattern, m, op in _operations(doc)
        if m == method and pattern.match(rel)
    ]
    if not matches:
        return [f"{method} {rel}: not an operation of the document"]
    # The most specific template wins: getByInstanceID(...) over {packageConfigurationID}.
    operation = min(matches, key=lambda found: found[0])[1]
    responses = operation.get("responses", {})
    live = next((s for (m, p), s in LIVE_STATUSES.items() if m == method and p.match(rel)), {})
    if str(status) not in responses and status in live:
        if not live[status]:
            return []
        declared = responses.get(live[status])
    else:
        declared = responses.get(str(status)) or responses.get("default")
    if declared is None:
        return [f"{method} {rel}: status {status} not declared"]
    if status >= 400:
        return []  # error bodies: string per the document; object or empty seen live
    content = _deref(doc, declared).get("content", {}).get("application/json")
    if content is None or not body:
        return []
    schema = {**content["schema"], "components": doc["components"]}
    data = json.loads(body)
    validator = jsonschema.Draft4Validator(schema)
    return [
        f"{method} {rel} {status}: {'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(data)
        if not (e.validator == "enum" and e.instance in LIVE_VALUES) and not _live_shape(e)
    ]


def _live_shape(error: Any) -> bool:
    """Shapes the document gets wrong and the live service (and every client) uses: an
    availability audience is `{"type": "PreviewMarketplaceGroup", "values": [...]}`, not a
    bare array of strings."""
    path = list(error.absolute_path)
    return "audiences" in path and isinstance(error.instance, dict) and "type" in error.instance


def schema_for(doc: dict[str, Any], resource_type: str) -> dict[str, Any] | None:
    """The document's schema of a resource by its resourceType (e.g. AzureListing)."""
    schemas: dict[str, Any] = doc["components"]["schemas"]
    for name, schema in schemas.items():
        if name.rsplit(".", 1)[-1] == resource_type:
            return {**schema, "components": doc["components"]}
    return None


def write_problems(doc: dict[str, Any], body: dict[str, Any]) -> list[str]:
    """What in a body written to the service has the wrong type or value for its resource
    (as the service refuses it: a string for a boolean, an unknown enum value)."""
    import jsonschema

    schema = schema_for(doc, str(body.get("resourceType", "")))
    if schema is None:
        return []
    return [
        f"{'/'.join(map(str, e.absolute_path)) or 'body'}: {e.message}"[:300]
        for e in jsonschema.Draft4Validator(schema).iter_errors(body)
        if not (e.validator == "enum" and e.instance in LIVE_VALUES) and not _live_shape(e)
    ][:5]


def _properties(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A schema's properties, through allOf and $ref."""
    found: dict[str, Any] = {}
    stack = [schema]
    while stack:
        node = _deref(doc, stack.pop())
        found.update(node.get("properties", {}))
        stack.extend(node.get("allOf", []))
    return found


def coerced(doc: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """The body as the service's model binding reads it: `"true"`/`"false"` for a boolean
    property become real booleans (and are answered so)."""
    schema = schema_for(doc, str(body.get("resourceType", "")))
    if schema is None:
        return body
    props = _properties(doc, schema)
    fixed = dict(body)
    for name, value in body.items():
        kind = props.get(name, {}).get("type")
        if kind == "boolean" and isinstance(value, str) and value.lower() in ("true", "false"):
            fixed[name] = value.lower() == "true"
    return fixed
