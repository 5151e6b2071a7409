"""Resources of the ingestion API, as the pipeline reads them.

The live service drifts from its OpenAPI document: property names come in mixed case and new
properties appear, so models match names case-insensitively and ignore what they don't know.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.partnercenter.errors import MalformedAnswer
from shared.partnercenter.paths import MAX_SEGMENT

# An id the pipeline goes on to name in a path or record: an answer without one, with one
# longer than a path segment may be (paths.MAX_SEGMENT), or with a character no Table storage
# key may hold (/ \ # ? and control characters; the ledger keys rows by product and
# submission), is malformed. Partner Center's ids are GUIDs, numbers and plan ids.
Ref = Annotated[str, Field(max_length=MAX_SEGMENT, pattern=r"^[^/\\#?\x00-\x1f\x7f-\x9f]*$")]
Id = Annotated[Ref, Field(min_length=1)]
# An ETag goes back in an If-Match header: printable ASCII, as httpx can send it (a character
# past ASCII raised a UnicodeEncodeError, a bug's error, on the write that carried it).
ETag = Annotated[str, Field(pattern=r"^[\x20-\x7e]*$")]


class Resource(BaseModel):
    """Base: unknown fields ignored, property names matched case-insensitively."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _fold_case(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        wanted = {}
        for name, field in cls.model_fields.items():
            wanted[name.lower()] = name if field.alias is None else field.alias
            if field.alias:
                wanted[field.alias.lower()] = field.alias
        return {wanted.get(str(k).lower(), k): v for k, v in data.items()}


class TypeValue(Resource):
    type: str
    value: str


class Product(Resource):
    id: Id
    name: str = ""
    resource_type: str = Field(default="", alias="resourceType")
    external_ids: list[TypeValue] = Field(default_factory=list, alias="externalIDs")

    @property
    def offer_id(self) -> str | None:
        for ext in self.external_ids:
            if ext.type.lower() == "azureofferid":
                return ext.value
        return None


class Branch(Resource):
    id: Ref = ""
    module: str
    current_draft_instance_id: Ref = Field(alias="currentDraftInstanceID")
    variant_id: Ref | None = Field(default=None, alias="variantID")


class PendingUpdateInfo(Resource):
    update_type: str = Field(default="", alias="updateType")
    status: str = ""
    href: str | None = None
    failure_reason: str | None = Field(default=None, alias="failureReason")


class SubmissionState(StrEnum):
    IN_PROGRESS = "InProgress"
    PUBLISHED = "Published"


class VariantResources(Resource):
    variant_id: Ref = Field(default="", alias="variantID")
    resources: list[TypeValue] = Field(default_factory=list)


class Submission(Resource):
    id: Id
    state: str
    substate: str
    targets: list[TypeValue] = Field(default_factory=list)
    resources: list[TypeValue] = Field(default_factory=list)
    variant_resources: list[VariantResources] = Field(
        default_factory=list, alias="variantResources"
    )
    pending_update_info: PendingUpdateInfo | None = Field(default=None, alias="pendingUpdateInfo")
    friendly_name: str | None = Field(default=None, alias="friendlyName")

    @property
    def status(self) -> str:
        return f"{self.state}/{self.substate}"

    def refs(self) -> list[str]:
        """What it submits, as sorted `variant/type/value` strings (see intents)."""
        refs = [f"/{r.type}/{r.value}" for r in self.resources]
        refs += [
            f"{v.variant_id}/{r.type}/{r.value}"
            for v in self.variant_resources
            for r in v.resources
        ]
        return sorted(x.lower() for x in refs)


class ValidationItem(Resource):
    error_code: str = Field(default="", alias="errorCode")
    severity: str = ""
    message: str = ""
    resource: str | None = None


class WorkflowStep(Resource):
    name: str = ""
    state: str = ""


class WorkflowDetail(Resource):
    type: str = ""
    state: str = ""
    target_environment: str = Field(default="", alias="targetEnvironment")
    workflow_steps: list[WorkflowStep] = Field(default_factory=list, alias="workflowSteps")


class CertificationReport(Resource):
    report_time: str = Field(default="", alias="reportTimeInUtc")
    status: str = ""
    file_uri: str | None = Field(default=None, alias="fileUri")


class Variant(Resource):
    """A plan."""

    id: Id
    external_id: str = Field(default="", alias="externalID")
    friendly_name: str = Field(default="", alias="friendlyName")
    state: str = ""
    sub_type: str = Field(default="", alias="subType")


class ProductSetup(Resource):
    """How an offer is sold; for Business Central, whether it is an add-on or a Connect app."""

    package_type: str = Field(default="", alias="packageType")
    selling_option: str = Field(default="", alias="sellingOption")


class Draft(Resource):
    """An editable resource of a draft instance: a listing, a property, a product or feature
    availability, a package configuration. The pipeline reads and writes them whole, so
    everything the service sent is kept (`body`) and sent back on update."""

    id: Ref
    resource_type: str = Field(alias="resourceType")
    etag: ETag = Field(alias="@odata.etag")
    body: dict[str, Any] = Field(default_factory=dict, exclude=True, repr=False)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_body(cls, data: Any, handler: Any) -> Any:
        model = handler(data)
        if isinstance(data, dict):
            object.__setattr__(model, "body", dict(data))
        return model

    def records(self, key: str) -> list[dict[str, Any]]:
        """The list of objects the body holds under `key` (none when it is absent or null).
        Any other shape is a malformed answer, retried with a reason naming the field, never
        a bug's error, nor a list silently trimmed and written back."""
        value = self.body.get(key)
        if value is None:
            return []
        if isinstance(value, list) and all(isinstance(v, dict) for v in value):
            return value
        raise MalformedAnswer(f"{self.resource_type} {self.id}: {key} is not a list of objects")


class Package(Resource):
    id: Id
    file_name: str = Field(default="", alias="fileName")
    state: str = ""
    file_sas_uri: str | None = Field(default=None, alias="fileSasUri", repr=False)
    etag: ETag | None = Field(default=None, alias="@odata.etag")
    resource_type: str = Field(default="AzureApplicationPackage", alias="resourceType")
    validation_items: list[ValidationItem] = Field(default_factory=list, alias="validationItems")


class ListingMedia(Resource):
    """A file of a listing: an image (a logo, a screenshot) or an asset (a supporting
    document), uploaded through its SAS URI."""

    id: Id
    type: str = ""
    file_name: str = Field(default="", alias="fileName")
    order: int = 0
    state: str = ""
    file_sas_uri: str | None = Field(default=None, alias="fileSasUri", repr=False)
    etag: ETag | None = Field(default=None, alias="@odata.etag")


class VideoThumbnail(Resource):
    title: str = ""
    file_name: str = Field(default="", alias="fileName")
    state: str = ""
    file_sas_uri: str | None = Field(default=None, alias="fileSasUri", repr=False)


class ListingVideo(Resource):
    """A listing video: where it streams, and its thumbnail (uploaded like an image)."""

    id: Id
    streaming_uri: str = Field(default="", alias="streamingUri")
    state: str = ""
    thumbnail: VideoThumbnail = Field(default_factory=VideoThumbnail)
    etag: ETag | None = Field(default=None, alias="@odata.etag")
