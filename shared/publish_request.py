"""The publish request other systems send (schema v1, schemas/publish-request.v1.json).

Requests are untrusted. The body must be strict, bounded UTF-8 JSON (shared.strictjson); types
are strict (`true` is not `1`, a number is not a string); `null` is never a value (leave the
field out); identifiers follow Partner Center's own rules before any of them can reach a URL;
package sources cannot climb out of the staging container or carry credentials. Everything
here is expressible in JSON Schema, so the model and the published schema accept exactly the
same bodies; the checks that need this deployment's settings are `check_policy`'s.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.redaction import carries_secret, scrub, strings_in
from shared.request_base import (
    BLOB_URL_PATTERN,
    EXTERNAL_ID_PATTERN,
    GUID_PATTERN,
    LIMITS,
    MAX_REASON,
    MAX_REQUEST_BYTES,
    PRINTABLE,
    REQUEST_ID_PATTERN,
    STAGED_PATTERN,
    TEXT,
    URL_PATTERN,
    UTC_TIME_PATTERN,
    Strict,
    exactly_one,
)
from shared.request_changes import DraftChanges, PackageSource
from shared.strictjson import JsonRefused, loads_strict
from shared.wording import listed

__all__ = [
    "MAX_REASON",
    "MAX_REQUEST_BYTES",
    "REQUEST_ID_PATTERN",
    "DraftChanges",
    "PackageSource",
    "PublishRequest",
    "RequestRejected",
    "parse_publish_request",
]


class OfferRef(Strict):
    """The offer to publish: its Partner Center product id or the publisher's own offer id."""

    model_config = ConfigDict(json_schema_extra=exactly_one("productId", "externalId"))
    product_id: str | None = Field(default=None, alias="productId", pattern=GUID_PATTERN)
    external_id: str | None = Field(default=None, alias="externalId", pattern=EXTERNAL_ID_PATTERN)

    @model_validator(mode="after")
    def _exactly_one(self) -> OfferRef:
        if (self.product_id is None) == (self.external_id is None):
            raise ValueError("give exactly one of productId or externalId")
        return self

    @property
    def key(self) -> str:
        """A stable name for the offer, used in logs and locks."""
        return f"product:{self.product_id}" if self.product_id else f"offer:{self.external_id}"


M = TypeVar("M", bound=BaseModel)
GoLive = Literal["auto", "approval"]
LabelKey = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
LabelValue = Annotated[str, Field(max_length=256, pattern=PRINTABLE)]


class PublishRequest(Strict):
    """A publish request, schema version 1."""

    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"target": {"const": "preview"}}},
            "then": {
                "not": {
                    "anyOf": [
                        {"required": ["notBefore"]},
                        {"required": ["goLive"], "properties": {"goLive": {"const": "approval"}}},
                    ]
                }
            },
        }
    )

    schema_version: Literal[1] = Field(alias="schemaVersion")
    request_id: str = Field(alias="requestId", pattern=REQUEST_ID_PATTERN)
    offer: OfferRef
    # preview or live publish; plan records what would change (nothing is written); export
    # writes the offer out as a request that would reproduce it (no changes given).
    target: Literal["preview", "live", "plan", "export"]
    changes: DraftChanges | None = None
    requested_by: str | None = Field(
        default=None, alias="requestedBy", max_length=200, pattern=PRINTABLE
    )
    # At most 20 labels of 64 + 256 printable characters: every event that carries them fits
    # a queue message.
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict, max_length=20)
    # Go-live control (target live): promote as soon as the preview is ready ("auto", the
    # default), or only once someone approves; and never before `notBefore`. Left out when
    # not given, so earlier requests keep their fingerprints.
    go_live: GoLive | None = Field(default=None, alias="goLive")
    not_before: Annotated[str, Field(pattern=UTC_TIME_PATTERN)] | None = Field(
        default=None, alias="notBefore"
    )
    # Nothing differs and no package: end `unchanged`, with no submission.
    only_changed: bool | None = Field(default=None, alias="onlyChanged")
    # Target export: what to read, the draft (the default), or what is in preview or live.
    export_from: Literal["draft", "preview", "live"] | None = Field(
        default=None, alias="exportFrom"
    )

    @model_validator(mode="after")
    def _go_live_needs_live(self) -> PublishRequest:
        if self.target != "live" and (self.go_live == "approval" or self.not_before):
            raise ValueError("goLive approval and notBefore need target live")
        if self.target == "export" and self.changes is not None:
            raise ValueError("an export takes no changes: it reads what the offer holds")
        if self.export_from is not None and self.target != "export":
            raise ValueError("exportFrom goes with target export")
        return self

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=True)

    def fingerprint(self) -> str:
        """A hash of what the request asks for, independent of key order and whitespace: the
        same requestId with another fingerprint is a conflict, not a duplicate."""
        canonical = json.dumps(
            self.model_dump(by_alias=True, exclude_none=True), sort_keys=True, separators=(",", ":")
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


class RequestRejected(Exception):
    """A publish request that can never be processed; `reason` says why, for the sender."""

    def __init__(self, reason: str, request_id: str | None) -> None:
        reason = bounded(reason)
        super().__init__(reason)
        self.reason = reason
        self.request_id = request_id


def bounded(text: str, limit: int = MAX_REASON) -> str:
    """A reason as it may be stored and sent: no secrets, at most `limit` characters."""
    text = scrub(text)
    return text if len(text) <= limit else text[: limit - 15] + " ... (trimmed)"


def parse_publish_request(body: str | bytes) -> PublishRequest:
    """Validate a raw request body or raise RequestRejected with a readable, bounded reason."""
    return validated(PublishRequest, load_body(body))


def load_body(body: str | bytes) -> dict[str, Any]:
    """A request body as strict, bounded JSON: an object of schema version 1."""
    try:
        data: Any = loads_strict(body, LIMITS)
    except JsonRefused as exc:
        raise RequestRejected(f"request refused: {exc}", None) from None
    request_id = readable_request_id(data)
    if not isinstance(data, dict):
        raise RequestRejected("request must be a JSON object", None)
    version = data.get("schemaVersion")
    if type(version) is not int or version != 1:
        shown = f" {version}" if type(version) is int and abs(version) < 10**6 else ""
        raise RequestRejected(
            f"unsupported schemaVersion{shown}; this service accepts the number 1", request_id
        )
    return data


def validated(model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestRejected(describe(exc), readable_request_id(data)) from None


def check_policy(
    request: PublishRequest, *, url_hosts: tuple[str, ...], now: datetime | None = None
) -> None:
    """The checks that need this deployment's settings or the clock: allowed package hosts,
    no live secret (or anything shaped like a credential) in any field, and a notBefore that
    is a real time within a year (a run holds its offer until then)."""
    if carries_secret(strings_in(request.model_dump(by_alias=True, exclude_none=True))):
        raise RequestRejected(
            "a field carries a secret or a credential (a client secret, a token); "
            "remove it: pc-publisher reads its credentials from Key Vault",
            request.request_id,
        )
    if request.not_before:
        _check_not_before(request.not_before, request.request_id, now or datetime.now(UTC))
    changes = request.changes
    sources = {**changes.package_sources(), **changes.media_sources()} if changes else {}
    for where, source in sorted(sources.items()):
        if source.url is not None:
            host = (urlsplit(source.url).hostname or "").lower()
            if not host_allowed(host, url_hosts):
                raise RequestRejected(
                    f"changes.{where}.url: host {host[:100]!r} is not an allowed package "
                    "host (PACKAGE_URL_HOSTS)",
                    request.request_id,
                )


NOT_BEFORE_AHEAD = timedelta(days=366)


def _check_not_before(text: str, request_id: str, now: datetime) -> None:
    try:  # the pattern holds each field to its range; the calendar, to the month's days
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise RequestRejected("notBefore: not a day of the calendar", request_id) from None
    if when - now > NOT_BEFORE_AHEAD:
        raise RequestRejected(
            "notBefore: more than a year ahead (a mistyped year?); the run would hold its "
            "offer until then",
            request_id,
        )


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    return any(host == h or host.endswith("." + h.lstrip(".")) for h in allowed if h)


def readable_request_id(data: Any) -> str | None:
    """The request (or release) id, if the body carries a usable one (so the rejection is
    readable by it)."""
    if isinstance(data, dict):
        value = data.get("requestId", data.get("releaseId"))
        if isinstance(value, str) and re.fullmatch(REQUEST_ID_PATTERN[1:-1], value):
            return value
    return None


_FORMS = {
    REQUEST_ID_PATTERN: "must be 1-100 letters, digits, '.', '_', ':' or '-'",
    GUID_PATTERN: "must be a GUID",
    EXTERNAL_ID_PATTERN: "must be 3-50 lowercase letters, digits, '-' or '_' (Partner Center)",
    STAGED_PATTERN: "must be a blob name in the staging container, without '..', a leading '/' "
    "or '\\'",
    URL_PATTERN: "must be an https URL with a host name and no user information",
    BLOB_URL_PATTERN: "must be the https URL of a blob: a host name, a container and a blob "
    "name, no user information",
    PRINTABLE: "must not contain control characters",
    TEXT: "must not contain control characters other than tabs and line breaks",
    UTC_TIME_PATTERN: "must be a UTC time, as 2026-12-01T09:00Z",
}


def describe(exc: ValidationError, most: int = 8) -> str:
    """Field paths and kinds of error, never the values (one could be a secret)."""
    errors = exc.errors(include_input=False, include_url=False)
    parts = []
    for err in errors:
        where = ".".join(str(p)[:40] for p in err["loc"]) or "request"
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        elif err["type"] == "string_pattern_mismatch":
            msg = _FORMS.get(str((err.get("ctx") or {}).get("pattern")), "has the wrong form")
        else:
            msg = str(err["msg"])[:200]
        parts.append(f"{where}: {msg}")
    return "invalid request: " + listed(parts, most, "; ")
