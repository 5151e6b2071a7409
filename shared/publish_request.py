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
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.redaction import carries_secret, scrub, strings_in
from shared.strictjson import JsonRefused, Limits, loads_strict

# A queue message is at most 64 KiB encoded; base64 leaves 48 KiB of payload.
MAX_REQUEST_BYTES = 48 * 1024
LIMITS = Limits(max_bytes=MAX_REQUEST_BYTES, max_depth=12, max_keys=2000, max_string=40_000)
MAX_REASON = 2000
REQUEST_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$"
GUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
# Partner Center's offer and plan ids: 3-50 lowercase letters, digits, '-' and '_'.
EXTERNAL_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{2,49}$"
# Path segments that cannot be '.', '..', empty, absolute or use backslashes.
STAGED_PATTERN = r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}(/[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}){0,9}$"
# https, a host name (no user:password@), an optional port, no fragment or backslash.
URL_PATTERN = r"^https://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?(/[^\s#\\]*)?$"
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"


class _Request(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, strict=True)

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            nulls = sorted(str(k)[:40] for k, v in data.items() if v is None)
            if nulls:
                raise ValueError(f"null is not a value (leave the field out): {', '.join(nulls)}")
        return data


def _exactly_one(*names: str) -> dict[str, Any]:
    """JSON Schema for the model validators' 'give exactly one of ...' rule."""
    return {"oneOf": [{"required": [n]} for n in names]}


class OfferRef(_Request):
    """The offer to publish: its Partner Center product id or the publisher's own offer id."""

    model_config = ConfigDict(json_schema_extra=_exactly_one("productId", "externalId"))
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


Text = Annotated[str, Field(max_length=5000)]
Short = Annotated[str, Field(min_length=1, max_length=200)]
PlanId = Annotated[str, Field(pattern=EXTERNAL_ID_PATTERN)]


class ListingChanges(_Request):
    """Listing fields to set (offer or plan listing, en-us)."""

    title: Short | None = None
    summary: Text | None = None
    short_description: Text | None = Field(default=None, alias="shortDescription")
    description: Annotated[str, Field(max_length=30000)] | None = None
    keywords: list[Short] | None = Field(default=None, max_length=10)

    def fields(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class PropertyChanges(_Request):
    app_version: Short | None = Field(default=None, alias="appVersion")
    categories: list[Short] | None = Field(default=None, max_length=50)
    industries: list[Short] | None = Field(default=None, max_length=50)
    terms_of_use: Annotated[str, Field(max_length=30000)] | None = Field(
        default=None, alias="termsOfUse"
    )
    use_enterprise_contract: bool | None = Field(default=None, alias="useEnterpriseContract")

    def fields(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class PlanAvailability(_Request):
    visibility: Literal["Public", "Private"] | None = None
    markets: list[Annotated[str, Field(pattern=r"^[A-Z]{2}$")]] | None = Field(
        default=None, min_length=1, max_length=250
    )


class PackageSource(_Request):
    """Where the package file is: a blob URL the app can read (on an allowed host), or a blob
    staged in the app's own `package-staging` container."""

    model_config = ConfigDict(json_schema_extra=_exactly_one("url", "staged"))
    url: Annotated[str, Field(pattern=URL_PATTERN, max_length=2000)] | None = None
    staged: Annotated[str, Field(pattern=STAGED_PATTERN, max_length=200)] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> PackageSource:
        if (self.url is None) == (self.staged is None):
            raise ValueError("give exactly one of url or staged")
        return self

    @property
    def file_name(self) -> str:
        name = (self.staged or urlsplit(self.url or "").path).rsplit("/", 1)[-1]
        return "".join(c if c.isalnum() or c in "._-" else "-" for c in name) or "package.zip"


class TechnicalConfiguration(_Request):
    version: Annotated[str, Field(pattern=r"^\d{1,9}\.\d{1,9}\.\d{1,9}$")] | None = None
    package: PackageSource | None = None


class PlanChanges(_Request):
    listing: ListingChanges | None = None
    availability: PlanAvailability | None = None
    technical_configuration: TechnicalConfiguration | None = Field(
        default=None, alias="technicalConfiguration"
    )


class DraftChanges(_Request):
    """What the offer's draft should look like before it is submitted."""

    listing: ListingChanges | None = None
    properties: PropertyChanges | None = None
    preview_audience: list[Annotated[str, Field(pattern=GUID_PATTERN)]] | None = Field(
        default=None, alias="previewAudience", max_length=100
    )
    plans: dict[PlanId, PlanChanges] = Field(default_factory=dict, max_length=50)

    @property
    def package_plans(self) -> dict[str, PackageSource]:
        return {
            plan: change.technical_configuration.package
            for plan, change in self.plans.items()
            if change.technical_configuration and change.technical_configuration.package
        }


LabelKey = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
LabelValue = Annotated[str, Field(max_length=256, pattern=PRINTABLE)]


class PublishRequest(_Request):
    """A publish request, schema version 1."""

    schema_version: Literal[1] = Field(alias="schemaVersion")
    request_id: str = Field(alias="requestId", pattern=REQUEST_ID_PATTERN)
    offer: OfferRef
    target: Literal["preview", "live"]
    changes: DraftChanges | None = None
    requested_by: str | None = Field(
        default=None, alias="requestedBy", max_length=200, pattern=PRINTABLE
    )
    # At most 20 labels of 64 + 256 printable characters: every event that carries them fits
    # a queue message.
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict, max_length=20)

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
    try:
        return PublishRequest.model_validate(data)
    except ValidationError as exc:
        raise RequestRejected(describe(exc), request_id) from None


def check_policy(request: PublishRequest, *, url_hosts: tuple[str, ...]) -> None:
    """The checks that need this deployment's settings: allowed package hosts, and no live
    secret (or anything shaped like a credential) in any field."""
    if carries_secret(strings_in(request.model_dump(by_alias=True, exclude_none=True))):
        raise RequestRejected(
            "a field carries a secret or a credential (a client secret, a token); "
            "remove it: pc-publisher reads its credentials from Key Vault",
            request.request_id,
        )
    changes = request.changes
    for plan, source in sorted((changes.package_plans if changes else {}).items()):
        if source.url is not None:
            host = (urlsplit(source.url).hostname or "").lower()
            if not host_allowed(host, url_hosts):
                raise RequestRejected(
                    f"changes.plans.{plan}.technicalConfiguration.package.url: host "
                    f"{host[:100]!r} is not an allowed package host (PACKAGE_URL_HOSTS)",
                    request.request_id,
                )


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    return any(host == h or host.endswith("." + h.lstrip(".")) for h in allowed if h)


def readable_request_id(data: Any) -> str | None:
    """The request id, if the body carries a usable one (so the rejection is readable by it)."""
    if isinstance(data, dict):
        value = data.get("requestId")
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
    PRINTABLE: "must not contain control characters",
}


def describe(exc: ValidationError, most: int = 8) -> str:
    """Field paths and kinds of error, never the values (one could be a secret)."""
    errors = exc.errors(include_input=False, include_url=False)
    parts = []
    for err in errors[:most]:
        where = ".".join(str(p)[:40] for p in err["loc"]) or "request"
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        elif err["type"] == "string_pattern_mismatch":
            msg = _FORMS.get(str((err.get("ctx") or {}).get("pattern")), "has the wrong form")
        else:
            msg = str(err["msg"])[:200]
        parts.append(f"{where}: {msg}")
    more = f"; and {len(errors) - most} more" if len(errors) > most else ""
    return "invalid request: " + "; ".join(parts) + more
