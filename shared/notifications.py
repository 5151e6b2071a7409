"""Events forwarded where people are: a signed generic webhook, or a Microsoft Teams channel.

Sinks are configured in `PC_NOTIFY_SINKS` (a JSON list), each with a filter (event kinds,
offers, releases). A sink's URL carries its token, so the setting names a Key Vault secret
holding it, never the URL itself; a webhook's signing key is a Key Vault secret too.

A webhook receives the event as JSON with `X-PcPublisher-Timestamp` and
`X-PcPublisher-Signature: v1=<hex>`, the HMAC-SHA256 of `<timestamp>.<body>` under the
signing key: a receiver checks it, and refuses old timestamps, to trust what it got. Teams
receives an adaptive card (offer, stage, reason, a link to the offer in Partner Center) in the
message shape a Workflows webhook takes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.messages import Event, EventKind

SECRET_NAME = r"^[0-9A-Za-z-]{1,127}$"  # what Key Vault allows as a secret name
PORTAL = "https://partner.microsoft.com/dashboard/commercial-marketplace/offers/{}/overview"
SIGNATURE = "X-PcPublisher-Signature"
TIMESTAMP = "X-PcPublisher-Timestamp"
BAD_NEWS = {
    EventKind.FAILED,
    EventKind.REJECTED,
    EventKind.REFUSED,
    EventKind.CANCELLED,
    EventKind.RELEASE_FAILED,
}


class Sink(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    name: str = Field(pattern=r"^[A-Za-z0-9-]{1,40}$")
    kind: Literal["webhook", "teams"]
    url_secret: str = Field(alias="urlSecret", pattern=SECRET_NAME)
    signing_secret: str | None = Field(default=None, alias="signingSecret", pattern=SECRET_NAME)
    kinds: list[EventKind] | None = None
    offers: list[str] | None = None
    releases: list[str] | None = None

    @model_validator(mode="after")
    def _signed(self) -> Sink:
        if self.kind == "webhook" and not self.signing_secret:
            raise ValueError(f"sink {self.name}: a webhook needs signingSecret")
        return self

    def wants(self, event: Event) -> bool:
        if self.kinds is not None and event.kind not in self.kinds:
            return False
        if self.offers is not None and (event.offer or "") not in self.offers:
            return False
        return self.releases is None or (event.release_id or "") in self.releases


class Delivery(BaseModel):
    """One event on its way to one sink (the pc-notify queue's message)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    version: Literal[1] = Field(default=1, alias="v")
    sink: str
    event: Event
    attempt: int = Field(default=0, ge=0)

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=True)


def parse_sinks(text: str) -> list[Sink]:
    listed = json.loads(text or "[]")
    if not isinstance(listed, list):  # `5` raised a TypeError; `{}` was read as no sinks
        raise ValueError("not a list")  # not echoed: a pasted webhook URL is a secret
    sinks = [Sink.model_validate(s) for s in listed]
    names = [s.name for s in sinks]
    if len(set(names)) != len(names):
        raise ValueError("sink names must be unique")
    return sinks


def sign(key: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(key.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + digest.hexdigest()


def webhook(event: Event, key: str, now: int) -> tuple[bytes, dict[str, str]]:
    body = event.to_json().encode()
    stamp = str(now)
    return body, {
        "Content-Type": "application/json",
        TIMESTAMP: stamp,
        SIGNATURE: sign(key, stamp, body),
    }


def teams(event: Event) -> tuple[bytes, dict[str, str]]:
    """The message a Teams Workflows webhook posts: one adaptive card."""
    facts = [
        {"title": "Offer", "value": event.offer or "?"},
        {"title": "Request", "value": event.request_id},
        {"title": "Stage", "value": str(event.stage or "")},
    ]
    if event.release_id:
        facts.append({"title": "Release", "value": event.release_id})
    if event.submission_id:
        facts.append({"title": "Submission", "value": event.submission_id})
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": f"pc-publisher: {event.kind}",
            "weight": "Bolder",
            "size": "Medium",
            "color": "Attention" if event.kind in BAD_NEWS else "Default",
            "wrap": True,
        },
        {"type": "FactSet", "facts": facts},
    ]
    if event.reason:  # a text run shows no Markdown: a reason's `*`, `_` and links stay text
        body.append(
            {"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": event.reason}]}
        )
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if event.product_id:
        card["actions"] = [
            {
                "type": "Action.OpenUrl",
                "title": "Open in Partner Center",
                "url": PORTAL.format(event.product_id),
            }
        ]
    message = {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }
    return json.dumps(message).encode(), {"Content-Type": "application/json"}
