"""The published JSON Schema is the model's, and other producers can validate with it."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from pcpub.schema import PUBLISHED, render

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schemas" / "publish-request.v1.json"


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_schemas_are_current(name: str) -> None:
    assert (SCHEMA_FILE.parent / name).read_text() == render(name), "run: python -m pcpub.schema"


def test_schema_accepts_and_refuses_like_the_service() -> None:
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))
    good = {
        "schemaVersion": 1,
        "requestId": "r-1",
        "offer": {"externalId": "contoso-x"},
        "target": "live",
        "changes": {
            "plans": {
                "basic": {
                    "technicalConfiguration": {"version": "1.0.0", "package": {"staged": "app.zip"}}
                }
            }
        },
    }
    assert list(validator.iter_errors(good)) == []
    for bad in (
        {**good, "extra": 1},
        {**good, "schemaVersion": 2},
        {**good, "target": "prod"},
        {**good, "requestId": "has space"},
    ):
        assert list(validator.iter_errors(bad)), bad


@pytest.mark.parametrize("field", ["requestId", "offer", "target", "schemaVersion"])
def test_required_fields(field: str) -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    assert field in schema["required"]
