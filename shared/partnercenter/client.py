"""The Partner Center ingestion client: the API's resources, typed, over the transport
(shared.partnercenter.transport: pooling, retries, fencing, errors)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.partnercenter.call_context import correlation
from shared.partnercenter.errors import Throttled, Unauthorized
from shared.partnercenter.listing_files import ListingFiles
from shared.partnercenter.models import (
    Branch,
    CertificationReport,
    Draft,
    Package,
    Product,
    ProductSetup,
    Submission,
    ValidationItem,
    Variant,
    WorkflowDetail,
)
from shared.partnercenter.paths import UnsafePath, segment
from shared.partnercenter.responses import parsed
from shared.partnercenter.retries import RetryPolicy

# Draft collections: (path for getByInstanceID, path for one resource), spelled as documented.
DRAFT_COLLECTIONS = {
    "listings": ("listings", "listings"),
    "properties": ("properties", "properties"),
    "productavailabilities": ("productAvailabilities", "productavailabilities"),
    "featureavailabilities": ("featureAvailabilities", "featureavailabilities"),
    "packageconfigurations": ("packageConfigurations", "packageconfigurations"),
}


class PartnerCenterClient(ListingFiles):
    """Typed client for `{base_url}` = https://api.partner.microsoft.com/v1.0/ingestion."""

    # -- resources --------------------------------------------------------------------------

    def get_product(self, product_id: str) -> Product:
        return self._get(f"products/{segment(product_id)}", Product)

    def find_products(self, offer_id: str) -> list[Product]:
        """Products whose AzureOfferId external id is `offer_id`."""
        quoted = offer_id.replace("'", "''")
        flt = f"ExternalIDs/Any(i:i/Type eq 'AzureOfferId' and i/Value eq '{quoted}')"
        return list(self._paged("products", Product, {"$filter": flt}))

    def setup(self, product_id: str) -> ProductSetup:
        return self._get(f"products/{segment(product_id)}/setup", ProductSetup)

    def branches(self, product_id: str, module: str) -> list[Branch]:
        return list(
            self._paged(
                f"products/{segment(product_id)}/branches/getByModule(module={segment(module)})",
                Branch,
            )
        )

    def variants(self, product_id: str) -> list[Variant]:
        return list(self._paged(f"products/{segment(product_id)}/variants", Variant))

    def drafts(
        self, product_id: str, collection: str, instance_id: str, expand: str | None = None
    ) -> list[Draft]:
        """The resources of one draft instance (e.g. collection 'listings')."""
        path = DRAFT_COLLECTIONS[collection.lower()][0]
        params = {"$expand": expand} if expand else None
        return list(
            self._paged(
                f"products/{segment(product_id)}/{path}/getByInstanceID(instanceID={segment(instance_id)})",
                Draft,
                params,
            )
        )

    def create_listing(self, product_id: str, instance_id: str, body: Mapping[str, Any]) -> Draft:
        """Add a listing language to a draft instance (createWithInstanceID)."""
        response = self.request(
            "POST",
            f"products/{segment(product_id)}/listings/createWithInstanceID"
            f"(instanceID={segment(instance_id)})",
            json=dict(body),
        )
        return parsed(Draft, response)

    def put_draft(
        self,
        product_id: str,
        collection: str,
        draft: Draft,
        changes: Mapping[str, Any],
        expand: str | None = None,
    ) -> Draft:
        """Replace a draft resource, conditional on the ETag it was read with (verbatim).
        `expand` goes on the PUT too: without it the live service drops market changes."""
        path = DRAFT_COLLECTIONS[collection.lower()][1]
        body = {**draft.body, **changes}
        response = self.request(
            "PUT",
            f"products/{segment(product_id)}/{path}/{segment(draft.id)}",
            params={"$expand": expand} if expand else None,
            json=body,
            if_match=draft.etag,
        )
        return parsed(Draft, response)

    def packages(self, product_id: str) -> list[Package]:
        return list(self._paged(f"products/{segment(product_id)}/packages", Package))

    def get_package(self, product_id: str, package_id: str) -> Package:
        return self._get(f"products/{segment(product_id)}/packages/{segment(package_id)}", Package)

    def create_package(
        self, product_id: str, file_name: str, resource_type: str = "AzureApplicationPackage"
    ) -> Package:
        """POST a package upload slot. Not idempotent: list packages before retrying."""
        response = self.request(
            "POST",
            f"products/{segment(product_id)}/packages",
            json={"resourceType": resource_type, "fileName": file_name},
        )
        return parsed(Package, response)

    def mark_uploaded(self, product_id: str, package: Package) -> Package:
        body = {
            "resourceType": package.resource_type,
            "id": package.id,
            "fileName": package.file_name,
            "fileSasUri": package.file_sas_uri,
            "state": "Uploaded",
        }
        response = self.request(
            "PUT",
            f"products/{segment(product_id)}/packages/{segment(package.id)}",
            json=body,
            if_match=package.etag,
        )
        return parsed(Package, response)

    def reports(self, product_id: str, submission_id: str) -> list[CertificationReport]:
        return list(
            self._paged(
                f"products/{segment(product_id)}/submissions/{segment(submission_id)}/reports",
                CertificationReport,
            )
        )

    def submissions(self, product_id: str) -> list[Submission]:
        return list(self._paged(f"products/{segment(product_id)}/submissions", Submission))

    def get_submission(self, product_id: str, submission_id: str) -> Submission:
        return self._get(
            f"products/{segment(product_id)}/submissions/{segment(submission_id)}", Submission
        )

    def create_submission(self, product_id: str, body: Mapping[str, Any]) -> Submission:
        """POST a submission. Not idempotent: on an ambiguous failure, list before retrying."""
        response = self.request(
            "POST", f"products/{segment(product_id)}/submissions", json=dict(body)
        )
        return parsed(Submission, response)

    def delete_submission(self, product_id: str, submission_id: str) -> None:
        """DELETE an in-progress submission (Partner Center refuses any other)."""
        self.request(
            "DELETE", f"products/{segment(product_id)}/submissions/{segment(submission_id)}"
        )

    def promote(self, product_id: str, submission_id: str) -> None:
        """POST promote. Not idempotent: on an ambiguous failure, read the submission first."""
        self.request(
            "POST", f"products/{segment(product_id)}/submissions/{segment(submission_id)}/promote"
        )

    def validations(self, product_id: str, submission_id: str) -> list[ValidationItem]:
        return list(
            self._paged(
                f"products/{segment(product_id)}/submissions/{segment(submission_id)}/validations",
                ValidationItem,
            )
        )

    def workflow_details(self, product_id: str, submission_id: str) -> list[WorkflowDetail]:
        return list(
            self._paged(
                f"products/{segment(product_id)}/submissions/{segment(submission_id)}/workflowdetails",
                WorkflowDetail,
            )
        )


__all__ = [
    "PartnerCenterClient",
    "RetryPolicy",
    "Throttled",
    "Unauthorized",
    "UnsafePath",
    "correlation",
]
