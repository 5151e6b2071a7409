"""The corpus's case type and the builders its bodies share."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

Level = Literal["decode", "model", "policy", "stage"]
GUID = "5fbe0803-a545-4504-b41a-d9d158112360"


@dataclass(frozen=True)
class Case:
    name: str
    body: bytes
    level: Level
    reason: str  # a fragment the rejection reason must contain
    # JSON Schema's number model cannot tell 1.0 from 1 (both are the integer 1 there).
    schema_blind: bool = False

    @property
    def parsed(self) -> Any:
        return json.loads(self.body)


def base(request_id: str, offer: str = "contoso-analytics", **extra: Any) -> dict[str, Any]:
    return {
        "schemaVersion": 1,
        "requestId": request_id,
        "offer": {"externalId": offer},
        "target": "preview",
        **extra,
    }


def encoded(data: Any) -> bytes:
    return json.dumps(data).encode()


def package(source: dict[str, Any]) -> dict[str, Any]:
    return {"plans": {"premium": {"technicalConfiguration": {"package": source}}}}


def tech(fields: dict[str, Any]) -> dict[str, Any]:
    return {"plans": {"premium": {"technicalConfiguration": {"tenantId": GUID, **fields}}}}


def auth(principal: Any, role: Any = GUID) -> dict[str, Any]:
    return {"principalId": principal, "roleDefinitionId": role}


def bc(app: Any, libraries: Any = None) -> dict[str, Any]:
    package = {"app": app} if libraries is None else {"app": app, "libraries": libraries}
    return {"properties": {"appVersion": "2.0.0.0"}, "package": package}


def nest(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = {"a": value}
    return value


def good_bodies(prefix: str = "good") -> list[bytes]:
    return [
        encoded(base(f"{prefix}-1")),
        encoded(base(f"{prefix}-2", labels={"team": "apps", "build": "1.2.3"}, requestedBy="ci")),
        encoded({**base(f"{prefix}-3"), "offer": {"productId": GUID}, "target": "live"}),
        encoded(base(f"{prefix}-4", changes={"listing": {"title": "T", "keywords": ["a", "b"]}})),
        encoded(base(f"{prefix}-5", changes={"properties": {"useEnterpriseContract": False}})),
        encoded(base(f"{prefix}-6", changes=package({"staged": "builds/app-1.0.0.zip"}))),
        encoded(
            base(
                f"{prefix}-7",
                changes=package({"url": "https://acct.blob.core.windows.net/c/app.zip?sv=1"}),
            )
        ),
        encoded(
            base(
                f"{prefix}-8", changes={"plans": {"premium": {"availability": {"markets": ["US"]}}}}
            )
        ),
        encoded(base(f"{prefix}-9", changes={"previewAudience": [GUID]})),
        encoded(base(f"{prefix}-11", "contoso-timesheets", changes=bc({"staged": "main.app"}))),
        encoded(base(f"{prefix}-12", changes=tech({"authorizations": [auth(GUID)]}))),
        encoded(base(f"{prefix}-13", changes=tech({"deploymentMode": "Complete"}))),
        encoded(
            {
                **base(f"{prefix}-14", goLive="approval", notBefore="2026-12-01T09:00Z"),
                "target": "live",
                "onlyChanged": True,
            }
        ),
        # A description of several lines, with tabs: text keeps its line breaks.
        encoded(
            base(
                f"{prefix}-15",
                changes={
                    "listing": {"description": "<p>One</p>\r\n\t<p>Two</p>\n", "summary": "a\nb"},
                    "properties": {"termsOfUse": "1.\tTerms\n2.\tMore"},
                },
            )
        ),
        # Non-ASCII text, an emoji (a surrogate pair escaped) and whitespace are fine.
        b'{ "schemaVersion" : 1, "requestId": "' + prefix.encode() + b'-10", "offer": '
        b'{"externalId": "contoso-analytics"}, "target": "preview", "changes": {"listing": '
        b'{"title": "Caf\\u00e9 \\ud83d\\ude00 \xc3\xa9"}}}',
    ]
