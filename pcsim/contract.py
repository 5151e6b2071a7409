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


Operation = tuple[re.Pattern[str], str, str, dict[str, Any]]  # pattern, method, template, op


class Contract:
    """The OpenAPI document (its operations compiled once), and what contradicted it so far."""

    def __init__(self, document: Path) -> None:
        self.doc: dict[str, Any] = json.loads(document.read_text())
        self._operations = _compile(self.doc)
        self._schemas: dict[str, dict[str, Any] | None] = {}
        self.checked = 0
        self.found: list[str] = []
        self._lock = threading.Lock()

    def observe(self, method: str, path: str, status: int, body: bytes) -> None:
        problems = self.problems(method, path, status, body)
        with self._lock:
            self.checked += 1
            self.found.extend(p for p in problems if p not in self.found)
            del self.found[200:]

    def _operation(self, method: str, rel: str) -> tuple[str, dict[str, Any]] | None:
        """(template, operation) for a call; the most specific template wins, so
        `getByInstanceID(...)` is not taken for `{packageConfigurationID}`."""
        matches = [
            (-len(pattern.pattern.replace("[^/]+", "")), template, op)
            for pattern, m, template, op in self._operations
            if m == method and pattern.match(rel)
        ]
        if not matches:
            return None
        _, template, op = min(matches, key=lambda found: found[0])
        return template, op

    def operation_of(self, method: str, path: str) -> str | None:
        """The document's template for a call, or None."""
        rel = path[len(PREFIX) :] if path.lower().startswith(PREFIX) else path
        found = self._operation(method, rel)
        return found[0] if found else None

    def problems(self, method: str, path: str, status: int, body: bytes) -> list[str]:
        """What in this response contradicts the document (empty when it conforms)."""
        if not path.lower().startswith(PREFIX):
            return []
        rel = path[len(PREFIX) :]
        found = self._operation(method, rel)
        if found is None:
            return [f"{method} {rel}: not an operation of the document"]
        responses = found[1].get("responses", {})
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
        content = _deref(self.doc, declared).get("content", {}).get("application/json")
        if content is None or not body:
            return []
        schema = {**content["schema"], "components": self.doc["components"]}
        return [
            f"{method} {rel} {status}: {where}: {message}"
            for where, message in _violations(schema, json.loads(body))
        ]

    def schema_for(self, resource_type: str) -> dict[str, Any] | None:
        """The document's schema of a resource by its resourceType (e.g. AzureListing)."""
        if resource_type not in self._schemas:
            schemas: dict[str, Any] = self.doc["components"]["schemas"]
            name = next((n for n in schemas if n.rsplit(".", 1)[-1] == resource_type), None)
            self._schemas[resource_type] = (
                {**schemas[name], "components": self.doc["components"]} if name else None
            )
        return self._schemas[resource_type]

    def write_problems(self, body: dict[str, Any]) -> list[str]:
        """What in a body written to the service has the wrong type or value for its
        resource (as the service refuses it: an array for a string, an unknown enum value)."""
        schema = self.schema_for(str(body.get("resourceType", "")))
        if schema is None:
            return []
        return [
            f"{where or 'body'}: {message}"[:300] for where, message in _violations(schema, body)
        ][:5]

    def coerced(self, body: dict[str, Any]) -> dict[str, Any]:
        """The body as the service's model binding reads it: `"true"`/`"false"` for a boolean
        property become real booleans (and are answered so)."""
        schema = self.schema_for(str(body.get("resourceType", "")))
        if schema is None:
            return body
        props = _properties(self.doc, schema)
        fixed = dict(body)
        for name, value in body.items():
            kind = props.get(name, {}).get("type")
            if kind == "boolean" and isinstance(value, str) and value.lower() in ("true", "false"):
                fixed[name] = value.lower() == "true"
        return fixed


def _compile(doc: dict[str, Any]) -> list[Operation]:
    found: list[Operation] = []
    for template, item in doc["paths"].items():
        escaped = re.escape(template)
        pattern = (
            re.sub(r"\\\{[^}]+\\\}", r"[^/]+", escaped.replace(r"\(", "(").replace(r"\)", ")"))
            .replace("(", r"\(")
            .replace(")", r"\)")
        )
        for method, operation in item.items():
            compiled = re.compile(f"^{pattern}$", re.IGNORECASE)
            found.append((compiled, method.upper(), template, operation))
    return found


def _deref(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = doc
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def _violations(schema: dict[str, Any], data: Any) -> list[tuple[str, str]]:
    """(path, message) of each way `data` breaks `schema`, less the live differences."""
    return [
        ("/".join(map(str, e.absolute_path)), e.message)
        for e in jsonschema.Draft4Validator(schema).iter_errors(data)
        if not (e.validator == "enum" and e.instance in LIVE_VALUES) and not _live_shape(e)
    ]


def _live_shape(error: Any) -> bool:
    """Shapes the document gets wrong and the live service (and every client) uses: an
    availability audience is `{"type": "PreviewMarketplaceGroup", "values": [...]}`, not a
    bare array of strings."""
    path = list(error.absolute_path)
    return "audiences" in path and isinstance(error.instance, dict) and "type" in error.instance


def _properties(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A schema's properties, through allOf and $ref."""
    found: dict[str, Any] = {}
    stack = [schema]
    while stack:
        node = _deref(doc, stack.pop())
        found.update(node.get("properties", {}))
        stack.extend(node.get("allOf", []))
    return found
