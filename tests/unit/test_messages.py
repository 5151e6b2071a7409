from __future__ import annotations

import json

import pytest

from shared.messages import Stage, StageMessage
from shared.publish_request import MAX_REQUEST_BYTES, RequestRejected, parse_publish_request


def request(**overrides: object) -> str:
    body: dict[str, object] = {
        "schemaVersion": 1,
        "requestId": "r-1",
        "offer": {"externalId": "contoso-backup"},
        "target": "live",
    }
    body.update(overrides)
    return json.dumps(body)


def test_valid_request_round_trips() -> None:
    req = parse_publish_request(request(labels={"team": "a"}, requestedBy="ci"))
    assert req.request_id == "r-1"
    assert req.offer.key == "offer:contoso-backup"
    assert json.loads(req.to_json())["labels"] == {"team": "a"}


@pytest.mark.parametrize(
    ("body", "reason", "readable_id"),
    [
        ("{not json", "not valid JSON", None),
        ("[1, 2]", "JSON object", None),
        (request(schemaVersion=2), "unsupported schemaVersion 2", "r-1"),
        (request(surprise=True), "surprise: unknown field", "r-1"),
        (request(target="production"), "target", "r-1"),
        (
            request(
                offer={"externalId": "abc", "productId": "00000000-0000-0000-0000-000000000000"}
            ),
            "exactly one",
            "r-1",
        ),
        (request(offer={}), "exactly one", "r-1"),
        (request(requestId="has spaces"), "requestId", None),
    ],
)
def test_bad_requests_are_rejected_with_a_reason(
    body: str, reason: str, readable_id: str | None
) -> None:
    with pytest.raises(RequestRejected) as caught:
        parse_publish_request(body)
    assert reason in caught.value.reason
    assert caught.value.request_id == readable_id


def test_oversize_request_is_rejected_before_parsing() -> None:
    body = request(labels={"pad": "x" * MAX_REQUEST_BYTES})
    with pytest.raises(RequestRejected, match="limit is"):
        parse_publish_request(body)


def test_stage_message_refuses_unknown_fields_and_versions() -> None:
    ok = StageMessage(run_id="r-1", stage=Stage.RESOLVE).to_json()
    assert StageMessage.model_validate_json(ok).stage is Stage.RESOLVE
    with pytest.raises(ValueError, match="v"):
        StageMessage.model_validate_json('{"v": 2, "runId": "r", "stage": "resolve"}')
    with pytest.raises(ValueError, match="extra"):
        StageMessage.model_validate_json('{"v": 1, "runId": "r", "stage": "resolve", "x": 1}')
