"""The publish request's JSON Schema, generated from the model (schemas/ holds the published
copy for producers in other languages; a test keeps the two equal)."""

from __future__ import annotations

import json
from typing import Any

from shared.publish_request import PublishRequest

SCHEMA_ID = "https://pc-publisher.dev/schemas/publish-request.v1.json"


def _without_nulls(node: Any) -> Any:
    """The model refuses `null` everywhere (leave the field out), so the schema does too:
    drop the `{"type": "null"}` branches and `default: null` pydantic writes for optionals.
    And dict keys that miss their pattern are refused, as the model refuses them."""
    if isinstance(node, list):
        return [_without_nulls(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _without_nulls(v) for k, v in node.items() if not (k == "default" and v is None)}
    if "patternProperties" in out and "additionalProperties" not in out:
        # pydantic's constrained dict keys: a key that misses the pattern is refused too.
        out["additionalProperties"] = False
    branches = out.get("anyOf")
    if isinstance(branches, list):
        kept = [b for b in branches if b != {"type": "null"}]
        if len(kept) == 1:
            del out["anyOf"]
            out = {**kept[0], **out}
        else:
            out["anyOf"] = kept
    return out


def publish_request_schema() -> dict[str, Any]:
    schema = _without_nulls(PublishRequest.model_json_schema(by_alias=True, mode="validation"))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "pc-publisher publish request, schema version 1",
        **schema,
    }


def render() -> str:
    return json.dumps(publish_request_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(render(), end="")
