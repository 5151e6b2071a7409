"""The publish request's JSON Schema, generated from the model (schemas/ holds the published
copy for producers in other languages; a test keeps the two equal)."""

from __future__ import annotations

import json
from typing import Any

from shared.messages import PublishRequest

SCHEMA_ID = "https://pc-publisher.dev/schemas/publish-request.v1.json"


def publish_request_schema() -> dict[str, Any]:
    schema = PublishRequest.model_json_schema(by_alias=True, mode="validation")
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
