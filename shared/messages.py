"""Wire formats: the publish request (schema v1) other systems send, the stage message that
carries a run between stages, and the events pc-publisher emits.

Requests from other systems are untrusted: unknown fields, another schema version or an oversize
body are refused with a reason the sender can read back. Stage messages are ours but still
validated, since a queue can be written by anyone with access to the account.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

# A queue message is at most 64 KiB encoded; base64 leaves 48 KiB of payload.
MAX_REQUEST_BYTES = 48 * 1024
REQUEST_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$"


class Stage(StrEnum):
    """The stages of a publish run, in order (see shared.pipeline.stages for the table)."""

    INTAKE = "intake"
    RESOLVE = "resolve"
    UPLOAD_PACKAGE = "upload_package"
    AWAIT_PACKAGE = "await_package"
    UPDATE_DRAFT = "update_draft"
    SUBMIT_PREVIEW = "submit_preview"
    AWAIT_PREVIEW = "await_preview"
    PROMOTE = "promote"
    AWAIT_LIVE = "await_live"
    COMPLETE = "complete"


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class OfferRef(_Strict):
    """The offer to publish: its Partner Center product id or the publisher's own offer id."""

    product_id: str | None = Field(default=None, alias="productId", min_length=1, max_length=100)
    external_id: str | None = Field(default=None, alias="externalId", min_length=1, max_length=100)

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


class ListingChanges(_Strict):
    """Listing fields to set (offer or plan listing, en-us)."""

    title: Short | None = None
    summary: Text | None = None
    short_description: Text | None = Field(default=None, alias="shortDescription")
    description: Annotated[str, Field(max_length=30000)] | None = None
    keywords: list[Short] | None = Field(default=None, max_length=10)

    def fields(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class PropertyChanges(_Strict):
    app_version: Short | None = Field(default=None, alias="appVersion")
    categories: list[Short] | None = None
    industries: list[Short] | None = None
    terms_of_use: Annotated[str, Field(max_length=30000)] | None = Field(
        default=None, alias="termsOfUse"
    )
    use_enterprise_contract: bool | None = Field(default=None, alias="useEnterpriseContract")

    def fields(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class PlanAvailability(_Strict):
    visibility: Literal["Public", "Private"] | None = None
    markets: list[Annotated[str, Field(pattern=r"^[A-Z]{2}$")]] | None = Field(
        default=None, min_length=1, max_length=250
    )


class PackageSource(_Strict):
    """Where the package file is: a blob URL the app can read, or a blob staged in the
    app's own `package-staging` container."""

    url: Annotated[str, Field(pattern=r"^https://", max_length=2000)] | None = None
    staged: Annotated[str, Field(pattern=r"^[\w./-]{1,200}$")] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> PackageSource:
        if (self.url is None) == (self.staged is None):
            raise ValueError("give exactly one of url or staged")
        return self

    @property
    def file_name(self) -> str:
        name = (self.staged or self.url or "package.zip").split("?")[0].rsplit("/", 1)[-1]
        return re.sub(r"[^\w.-]", "-", name) or "package.zip"


class TechnicalConfiguration(_Strict):
    version: Annotated[str, Field(pattern=r"^\d+\.\d+\.\d+$")] | None = None
    package: PackageSource | None = None


class PlanChanges(_Strict):
    listing: ListingChanges | None = None
    availability: PlanAvailability | None = None
    technical_configuration: TechnicalConfiguration | None = Field(
        default=None, alias="technicalConfiguration"
    )


class DraftChanges(_Strict):
    """What the offer's draft should look like before it is submitted."""

    listing: ListingChanges | None = None
    properties: PropertyChanges | None = None
    preview_audience: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(
        default=None, alias="previewAudience", max_length=100
    )
    plans: dict[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,49}$")], PlanChanges] = Field(
        default_factory=dict, max_length=50
    )

    @property
    def package_plans(self) -> dict[str, PackageSource]:
        return {
            plan: change.technical_configuration.package
            for plan, change in self.plans.items()
            if change.technical_configuration and change.technical_configuration.package
        }


class PublishRequest(_Strict):
    """A publish request, schema version 1 (schemas/publish-request.v1.json)."""

    schema_version: Literal[1] = Field(alias="schemaVersion")
    request_id: str = Field(alias="requestId", pattern=REQUEST_ID_PATTERN)
    offer: OfferRef
    target: Literal["preview", "live"]
    changes: DraftChanges | None = None
    requested_by: str | None = Field(default=None, alias="requestedBy", max_length=200)
    labels: dict[str, str] = Field(default_factory=dict, max_length=20)

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=True)


class RequestRejected(Exception):
    """A publish request that can never be processed; `reason` says why, for the sender."""

    def __init__(self, reason: str, request_id: str | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.request_id = request_id


def parse_publish_request(body: str | bytes) -> PublishRequest:
    """Validate a raw request body or raise RequestRejected with a readable reason."""
    raw = body.encode() if isinstance(body, str) else body
    if len(raw) > MAX_REQUEST_BYTES:
        raise RequestRejected(
            f"request is {len(raw)} bytes; the limit is {MAX_REQUEST_BYTES}", None
        )
    try:
        data: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestRejected(f"request is not valid JSON: {exc}", None) from None
    request_id = _request_id_of(data)
    if not isinstance(data, dict):
        raise RequestRejected("request must be a JSON object", None)
    version = data.get("schemaVersion")
    if version != 1:
        raise RequestRejected(
            f"unsupported schemaVersion {version!r}; this service accepts 1", request_id
        )
    try:
        return PublishRequest.model_validate(data)
    except ValidationError as exc:
        raise RequestRejected(_describe(exc), request_id) from None


def _request_id_of(data: Any) -> str | None:
    """The request id, if the body carries a usable one (so the rejection is readable by it)."""

    if isinstance(data, dict):
        value = data.get("requestId")
        if isinstance(value, str) and re.match(REQUEST_ID_PATTERN, value):
            return value
    return None


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "request"
        msg = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
        parts.append(f"{where}: {msg}")
    return "invalid request: " + "; ".join(parts)


class StageMessage(_Strict):
    """Hands a run to a stage. The ledger holds the run's state; the message only names it."""

    version: Literal[1] = Field(default=1, alias="v")
    run_id: str = Field(alias="runId", pattern=REQUEST_ID_PATTERN)
    stage: Stage

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True)


class EventKind(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    STAGE_CHANGED = "stage-changed"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Event(_Strict):
    """What requesting systems read from the events queue."""

    version: Literal[1] = Field(default=1, alias="v")
    kind: EventKind
    request_id: str = Field(alias="requestId")
    offer: str | None = None
    stage: Stage | None = None
    submission_id: str | None = Field(default=None, alias="submissionId")
    reason: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    at: str

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=True)
