"""Sinks, their filters, the webhook signature and the Teams card (pure logic)."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from pydantic import ValidationError

from shared.messages import Event, EventKind
from shared.notifications import SIGNATURE, TIMESTAMP, Sink, parse_sinks, teams, webhook

EVENT = Event(
    kind=EventKind.FAILED,
    request_id="req-1",
    offer="offer:contoso",
    stage="await_preview",
    product_id="prod-1",
    release_id="rel-1",
    submission_id="115",
    reason="certification failed: the listing needs a support contact",
    at="2026-11-25T10:00:00.000000Z",
)


def test_a_webhook_is_signed_over_timestamp_and_body() -> None:
    body, headers = webhook(EVENT, "k3y", 1_764_064_800)
    assert json.loads(body)["requestId"] == "req-1"
    expected = hmac.new(b"k3y", b"1764064800." + body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE] == f"v1={expected}"
    assert headers[TIMESTAMP] == "1764064800"
    _, other = webhook(EVENT, "another key", 1_764_064_800)
    assert other[SIGNATURE] != headers[SIGNATURE]


def test_the_teams_card_names_offer_stage_reason_and_links_the_offer() -> None:
    message = json.loads(teams(EVENT)[0])
    [attachment] = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
    assert facts["Offer"] == "offer:contoso" and facts["Stage"] == "await_preview"
    assert facts["Release"] == "rel-1"
    assert card["body"][0]["color"] == "Attention"
    [reason] = card["body"][2]["inlines"]  # a text run: Markdown in a reason is shown as text
    assert card["body"][2]["type"] == "RichTextBlock"
    assert reason == {"type": "TextRun", "text": EVENT.reason}
    [action] = card["actions"]
    assert action["url"].endswith("/offers/prod-1/overview")


def test_filters_by_kind_offer_and_release() -> None:
    sink = Sink(name="ops", kind="teams", url_secret="teams-url", kinds=[EventKind.FAILED])
    assert sink.wants(EVENT)
    assert not sink.wants(EVENT.model_copy(update={"kind": EventKind.SUCCEEDED}))
    only = sink.model_copy(update={"offers": ["offer:other"]})
    assert not only.wants(EVENT)
    release = sink.model_copy(update={"releases": ["rel-1"]})
    assert release.wants(EVENT)
    assert not release.wants(EVENT.model_copy(update={"release_id": None}))


def test_sinks_are_checked_when_the_settings_are_read() -> None:
    with pytest.raises(ValidationError, match="signingSecret"):
        parse_sinks('[{"name": "hook", "kind": "webhook", "urlSecret": "hook-url"}]')
    with pytest.raises(ValidationError):  # a URL where a Key Vault secret name belongs
        parse_sinks('[{"name": "t", "kind": "teams", "urlSecret": "https://x.example/hook"}]')
    with pytest.raises(ValueError, match="unique"):
        parse_sinks(
            '[{"name": "t", "kind": "teams", "urlSecret": "a"},'
            ' {"name": "t", "kind": "teams", "urlSecret": "b"}]'
        )
    assert parse_sinks("") == []
