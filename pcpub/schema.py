"""The publish and release requests' JSON Schemas, generated from the models (schemas/ holds
the published copies for producers in other languages; a test keeps them equal).

    python -m pcpub.schema      rewrite schemas/*.v1.json from the models

The release schema describes the shape; intake also checks what JSON Schema cannot say:
offer names used once, dependencies on known names, no cycles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from shared.publish_request import PublishRequest
from shared.release_request import ReleaseRequest

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
# file name -> (model, title)
PUBLISHED: dict[str, tuple[type[BaseModel], str]] = {
    "publish-request.v1.json": (PublishRequest, "pc-publisher publish request, schema version 1"),
    "release-request.v1.json": (ReleaseRequest, "pc-publisher release request, schema version 1"),
}


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


def schema_of(name: str) -> dict[str, Any]:
    model, title = PUBLISHED[name]
    schema = _without_nulls(model.model_json_schema(by_alias=True, mode="validation"))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://pc-publisher.dev/schemas/{name}",
        "title": title,
        **schema,
    }


def render(name: str = "publish-request.v1.json") -> str:
    return json.dumps(schema_of(name), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    for file_name in PUBLISHED:
        (SCHEMAS / file_name).write_text(render(file_name))
        print(f"wrote schemas/{file_name}")
