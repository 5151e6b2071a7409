"""The corpus of bad requests against the parser, the policy and the published JSON Schema."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from shared import redaction
from shared.publish_request import (
    MAX_REASON,
    RequestRejected,
    check_policy,
    parse_publish_request,
    readable_request_id,
)
from tests.corpus import Case, bad_bodies, good_bodies

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "schemas" / "publish-request.v1.json").read_text()
)
SECRETS = ["unit-test-client-secret-value", "Ab1~8Q~abcdefghijklmnopqrstuvwxyz0123456"]
HOSTS = ("blob.core.windows.net",)
CASES = bad_bodies("corpus", SECRETS)


@pytest.fixture(autouse=True)
def live_secrets() -> Iterator[None]:
    redaction.register(*SECRETS)
    yield
    redaction.forget_all()


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    """ECMA-262 `$` ends the input; Python's also matches before a final newline."""
    if isinstance(instance, str) and not re.search(re.sub(r"\$$", r"\\Z", pattern), instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


Validator = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
    jsonschema.Draft202012Validator, {"pattern": _ecma_pattern}
)
# patternProperties/propertyNames use the pattern too: match them the same way.
FORMAT = Validator(SCHEMA)


def outcome(body: bytes) -> str:
    try:
        check_policy(parse_publish_request(body), url_hosts=HOSTS)
    except RequestRejected as exc:
        reason = exc.reason
    else:
        return "accepted"
    assert len(reason) <= MAX_REASON
    assert not any(s in reason for s in SECRETS), reason
    return reason


def test_the_corpus_is_large_and_covers_every_class() -> None:
    assert len(CASES) >= 60
    assert {c.level for c in CASES} == {"decode", "model", "policy", "stage"}


def test_every_readable_request_id_is_used_once() -> None:
    """Through the queues the first body under an id is the one recorded: two cases sharing an
    id would test one of them only."""
    ids = [readable_request_id(_json(c.body)) for c in CASES if c.level != "decode"]
    named = [i for i in ids if i is not None]
    assert sorted({i for i in named if named.count(i) > 1}) == []


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


@pytest.mark.parametrize("case", [c for c in CASES if c.level != "stage"], ids=lambda c: c.name)
def test_every_bad_body_is_refused_with_a_bounded_reason(case: Case) -> None:
    reason = outcome(case.body)
    assert reason != "accepted"
    assert case.reason in reason


@pytest.mark.parametrize("body", good_bodies(), ids=lambda b: str(len(b)))
def test_good_bodies_pass(body: bytes) -> None:
    assert outcome(body) == "accepted"


def schema_accepts(data: Any) -> bool:
    return not list(FORMAT.iter_errors(data))


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c.level != "decode" and not c.schema_blind],
    ids=lambda c: c.name,
)
def test_model_and_schema_refuse_the_same_bodies(case: Case) -> None:
    data = case.parsed
    model_accepts = case.level in ("policy", "stage")  # the model passes; settings refuse
    assert schema_accepts(data) is model_accepts


@pytest.mark.parametrize("body", good_bodies(), ids=lambda b: str(len(b)))
def test_model_and_schema_accept_the_same_bodies(body: bytes) -> None:
    assert schema_accepts(json.loads(body))


def test_reasons_are_capped_and_name_the_first_errors() -> None:
    labels = {f"k{i}": i for i in range(20)}
    reason = outcome(
        json.dumps({"schemaVersion": 1, "requestId": "r-1", "labels": labels}).encode()
    )
    assert "and " in reason and "more" in reason
    assert len(reason) <= MAX_REASON


def test_a_reason_never_echoes_a_value() -> None:
    body = json.dumps(
        {
            "schemaVersion": 1,
            "requestId": "r-1",
            "target": "very-private-value-123",
            "offer": {"externalId": "contoso-x"},
        }
    ).encode()
    reason = outcome(body)
    assert "target" in reason
    assert "very-private-value-123" not in reason
