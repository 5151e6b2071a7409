"""What a publish request asks the offer's draft to become: listings, properties,
availability, plans' technical configuration and packages. Which of these an offer may carry
depends on its type (shared.offer_types); resolve checks that, with the type named."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import ConfigDict, Field, model_validator

from shared.request_base import (
    BLOB_URL_PATTERN,
    EXTERNAL_ID_PATTERN,
    GUID_PATTERN,
    LANGUAGE_PATTERN,
    PRINTABLE,
    STAGED_PATTERN,
    TEXT,
    URL_PATTERN,
    Strict,
    exactly_one,
)

# What goes to Partner Center as written: a one-line value has no control characters (an escape
# or a NUL in a store listing's title), and text keeps only its tabs and line breaks.
Text = Annotated[str, Field(max_length=5000, pattern=TEXT)]
LongText = Annotated[str, Field(max_length=30000, pattern=TEXT)]
Short = Annotated[str, Field(min_length=1, max_length=200, pattern=PRINTABLE)]
PlanId = Annotated[str, Field(pattern=EXTERNAL_ID_PATTERN)]
Language = Annotated[str, Field(pattern=LANGUAGE_PATTERN)]
DEFAULT_LANGUAGE = "en-us"


class PackageSource(Strict):
    """Where the package file is: a blob URL the app can read (on an allowed host), or a blob
    staged in the app's own `package-staging` container."""

    model_config = ConfigDict(json_schema_extra=exactly_one("url", "staged"))
    url: Annotated[str, Field(pattern=BLOB_URL_PATTERN, max_length=2000)] | None = None
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


MediaType = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9]{0,39}$")]
MediaName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][\w.-]{0,199}$")]


class MediaChange(Strict):
    """A listing image (a logo, a screenshot) or document: a file to upload (`file`), named
    in Partner Center by its content hash so an unchanged file is never uploaded again; or one
    Partner Center holds already (`fileName`, as an export writes it). `order` places images."""

    model_config = ConfigDict(json_schema_extra=exactly_one("file", "fileName"))
    type: MediaType
    file: PackageSource | None = None
    file_name: MediaName | None = Field(default=None, alias="fileName")
    order: int | None = Field(default=None, ge=0, le=100)

    @model_validator(mode="after")
    def _one_source(self) -> MediaChange:
        if (self.file is None) == (self.file_name is None):
            raise ValueError("give exactly one of file or fileName")
        return self


class VideoChange(Strict):
    """A listing video: where it streams (`link`, as Partner Center takes a YouTube or Vimeo
    address), its title, and its thumbnail image: a file to upload (`thumbnail`), named by its
    content, or one Partner Center holds (`thumbnailName`, as an export writes it)."""

    model_config = ConfigDict(json_schema_extra=exactly_one("thumbnail", "thumbnailName"))
    title: Short
    link: Annotated[str, Field(pattern=URL_PATTERN, max_length=2000)]
    thumbnail: PackageSource | None = None
    thumbnail_name: MediaName | None = Field(default=None, alias="thumbnailName")

    @model_validator(mode="after")
    def _one_thumbnail(self) -> VideoChange:
        if (self.thumbnail is None) == (self.thumbnail_name is None):
            raise ValueError("give exactly one of thumbnail or thumbnailName")
        return self


class ListingChanges(Strict):
    """Listing fields to set (an offer or plan listing, in one language), and its files."""

    title: Short | None = None
    summary: Text | None = None
    short_description: Text | None = Field(default=None, alias="shortDescription")
    description: LongText | None = None
    keywords: list[Short] | None = Field(default=None, max_length=10)
    # The listing's whole set of images (or documents), when given: others are removed.
    images: list[MediaChange] | None = Field(default=None, max_length=30)
    documents: list[MediaChange] | None = Field(default=None, max_length=20)
    videos: list[VideoChange] | None = Field(default=None, max_length=10)

    def fields(self) -> dict[str, Any]:
        """The listing resource's own fields (images are resources of their own)."""
        return self.model_dump(
            by_alias=True, exclude_none=True, exclude={"images", "documents", "videos"}
        )


class PropertyChanges(Strict):
    app_version: Short | None = Field(default=None, alias="appVersion")
    categories: list[Short] | None = Field(default=None, max_length=50)
    industries: list[Short] | None = Field(default=None, max_length=50)
    terms_of_use: LongText | None = Field(default=None, alias="termsOfUse")
    use_enterprise_contract: bool | None = Field(default=None, alias="useEnterpriseContract")

    def fields(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class PlanAvailability(Strict):
    visibility: Literal["Public", "Private"] | None = None
    markets: list[Annotated[str, Field(pattern=r"^[A-Z]{2}$")]] | None = Field(
        default=None, min_length=1, max_length=250
    )


ActionName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9./*_-]{0,199}$")]


class Authorization(Strict):
    """A principal of the publisher's tenant and the Azure role it gets on the managed
    resource group (both GUIDs, as Partner Center requires)."""

    principal_id: str = Field(alias="principalId", pattern=GUID_PATTERN)
    role_definition_id: str = Field(alias="roleDefinitionId", pattern=GUID_PATTERN)


class TechnicalConfiguration(Strict):
    """A plan's technical configuration. Every plan takes a version and a package; the other
    fields are a managed-application plan's (resolve refuses them on a solution template)."""

    version: Annotated[str, Field(pattern=r"^\d{1,9}\.\d{1,9}\.\d{1,9}$")] | None = None
    package: PackageSource | None = None
    tenant_id: str | None = Field(default=None, alias="tenantId", pattern=GUID_PATTERN)
    authorizations: list[Authorization] | None = Field(default=None, max_length=20)
    allow_jit_access: bool | None = Field(default=None, alias="allowJitAccess")
    deployment_mode: Literal["Incremental", "Complete"] | None = Field(
        default=None, alias="deploymentMode"
    )
    publisher_management_mode: Literal["Managed", "NoAccess"] | None = Field(
        default=None, alias="publisherManagementMode"
    )
    customer_access_enable_state: Literal["Enabled", "Disabled"] | None = Field(
        default=None, alias="customerAccessEnableState"
    )
    allowed_customer_actions: list[ActionName] | None = Field(
        default=None, alias="allowedCustomerActions", max_length=50
    )
    allowed_data_actions: list[ActionName] | None = Field(
        default=None, alias="allowedDataActions", max_length=50
    )

    def given(self) -> set[str]:
        """The request's names of the fields it sets."""
        return set(self.model_dump(by_alias=True, exclude_none=True))


class OfferPackage(Strict):
    """An offer-level package (Business Central): the main app and the library apps it
    depends on. Leave `libraries` out to keep the offer's current library package; give an
    empty list to remove it."""

    app: PackageSource
    libraries: list[PackageSource] | None = Field(default=None, max_length=20)


class Listings(Strict):
    """`listing` (en-us) and `listings` by language, which may not both name en-us."""

    listing: ListingChanges | None = None
    listings: dict[Language, ListingChanges] | None = Field(default=None, max_length=60)

    @model_validator(mode="after")
    def _en_us_once(self) -> Listings:
        if self.listing is not None and DEFAULT_LANGUAGE in (self.listings or {}):
            raise ValueError("give the en-us listing once: as listing or as listings.en-us")
        return self

    def by_language(self) -> dict[str, ListingChanges]:
        """Every listing the request sets, by language."""
        found = dict(self.listings or {})
        if self.listing is not None:
            found[DEFAULT_LANGUAGE] = self.listing
        return found


class PlanChanges(Listings):
    availability: PlanAvailability | None = None
    technical_configuration: TechnicalConfiguration | None = Field(
        default=None, alias="technicalConfiguration"
    )


class DraftChanges(Listings):
    """What the offer's draft should look like before it is submitted."""

    properties: PropertyChanges | None = None
    preview_audience: list[Annotated[str, Field(pattern=GUID_PATTERN)]] | None = Field(
        default=None, alias="previewAudience", max_length=100
    )
    package: OfferPackage | None = None
    # Offer-level visibility and markets (Business Central; Azure Applications set them per plan).
    availability: PlanAvailability | None = None
    plans: dict[PlanId, PlanChanges] = Field(default_factory=dict, max_length=50)

    @property
    def package_plans(self) -> dict[str, PackageSource]:
        return {
            plan: change.technical_configuration.package
            for plan, change in self.plans.items()
            if change.technical_configuration and change.technical_configuration.package
        }

    def media_sources(self) -> dict[str, PackageSource]:
        """Every image and document file the request names, by where it is named."""
        found = {}
        groups = [("", self.by_language())] + [
            (f"plans.{plan}.", change.by_language()) for plan, change in self.plans.items()
        ]
        for prefix, listings in groups:
            for language, listing in listings.items():
                where = f"{prefix}listings.{language}"
                for field, items in (("images", listing.images), ("documents", listing.documents)):
                    for i, item in enumerate(items or []):
                        if item.file is not None:
                            found[f"{where}.{field}.{i}.file"] = item.file
                for i, video in enumerate(listing.videos or []):
                    if video.thumbnail is not None:
                        found[f"{where}.videos.{i}.thumbnail"] = video.thumbnail
        return found

    def package_sources(self) -> dict[str, PackageSource]:
        """Every package source the request names, by where it is named."""
        found = {
            f"plans.{plan}.technicalConfiguration.package": source
            for plan, source in self.package_plans.items()
        }
        if self.package:
            found["package.app"] = self.package.app
            for i, lib in enumerate(self.package.libraries or []):
                found[f"package.libraries.{i}"] = lib
        return found
