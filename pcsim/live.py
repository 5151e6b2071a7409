"""How the live service behaves in 2026 where it differs from the 2022 document, each behaviour
a switch (the live one by default) that a test can pin through `PUT /_admin/live`.

- `offerListing`: what `GET /products` answers for migrated (Azure Application) offers since
  the April 2026 backend migration: `empty` (an empty page), `ich50400` (400 `ICH50400` for
  external-id filters), or `v1` (the document's behaviour).
- `unassociatedStatus`: what an app with a valid token gets when it is not added to the
  account (or lacks the Manager role): 401 live, 403 in the document's reading.
- `resellerRequired`: a submission that does not list the ResellerConfiguration module fails
  validation (`Resell-20007`); every offer has an offer-level ResellerConfiguration branch.
- `failedDraftsBlock`: a submission that failed validation (InProgress/InDraft with a failed
  pendingUpdateInfo) blocks new submissions (409 naming it) until it is deleted.
- `expandOnPut`: a FeatureAvailability PUT without `$expand=MarketStates,...` answers 200
  and silently keeps the old markets (price schedules, trial).
- `workflow404InPreview`: workflowdetails answers 404 while a submission waits in preview.
- `createStatus`: submission create answers 202 (seen live) rather than the document's 201.
- `regressionSeconds`: a service-wide regression from now on for that long: every ingestion
  call answers 400 with the `x-ms-publisherId` body of June 2026.
- Every ingestion answer carries `Request-ID` and `ms-correlation-x`.
- The Product Ingestion API's `GET /rp/product-ingestion/product?externalId=` lookup (with a
  Graph-audience token) always works: it is how Microsoft's own clients find such offers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import httpx

from pcsim.seed import GRAPH_AUDIENCE
from pcsim.wire import json_response

if TYPE_CHECKING:
    from pcsim.app import Route, Simulator

PRODUCT_INGESTION = "/rp/product-ingestion"
MIGRATED_TYPES = frozenset({"azureapplication"})
REGRESSION = (
    "Microsoft.Ingestion.Shared.WebApi.Client.ErrorHandler.RestClientException: Product "
    "request failed, API=GetProduct, HttpStatusCode=BadRequest, ResponseContent="
    '{"errors":{"x-ms-publisherId":["PublisherId is a required header, and must be a '
    'positive number."]}}'
)
ICH50400 = (
    'ICH50400 - Unable to complete request. {"faultCode":50400,"faultReason":"Unable to '
    'complete request.","faultDetails":"Request failed."}'
)


@dataclass
class LiveBehaviour:
    offer_listing: Literal["empty", "ich50400", "v1"] = "empty"
    unassociated_status: int = 401
    reseller_required: bool = True
    failed_drafts_block: bool = True
    expand_on_put: bool = True
    workflow_404_in_preview: bool = True
    create_status: int = 202
    # UNCERTAIN: whether a submission's instances stay the modules' drafts ("same") or each
    # module gets a new draft instance holding a copy ("new"), the published one frozen.
    draft_after_submit: Literal["same", "new"] = "same"
    regression_until: float = 0.0  # simulator clock time until which every call answers 400

    def to_json(self) -> dict[str, Any]:
        return {
            "offerListing": self.offer_listing,
            "unassociatedStatus": self.unassociated_status,
            "resellerRequired": self.reseller_required,
            "failedDraftsBlock": self.failed_drafts_block,
            "expandOnPut": self.expand_on_put,
            "workflow404InPreview": self.workflow_404_in_preview,
            "createStatus": self.create_status,
            "draftAfterSubmit": self.draft_after_submit,
            "regressionUntil": self.regression_until,
        }

    def update(self, data: dict[str, Any]) -> None:
        if "offerListing" in data:
            value = str(data["offerListing"])
            if value not in ("empty", "ich50400", "v1"):
                raise ValueError(f"offerListing {value!r}: empty, ich50400 or v1")
            self.offer_listing = value  # type: ignore[assignment]
        if "unassociatedStatus" in data:
            self.unassociated_status = int(data["unassociatedStatus"])
        if "resellerRequired" in data:
            self.reseller_required = bool(data["resellerRequired"])
        if "failedDraftsBlock" in data:
            self.failed_drafts_block = bool(data["failedDraftsBlock"])
        if "expandOnPut" in data:
            self.expand_on_put = bool(data["expandOnPut"])
        if "workflow404InPreview" in data:
            self.workflow_404_in_preview = bool(data["workflow404InPreview"])
        if "createStatus" in data:
            self.create_status = int(data["createStatus"])
        if "draftAfterSubmit" in data:
            value = str(data["draftAfterSubmit"])
            if value not in ("same", "new"):
                raise ValueError(f"draftAfterSubmit {value!r}: same or new")
            self.draft_after_submit = value  # type: ignore[assignment]

    def migrated(self, resource_type: str) -> bool:
        return self.offer_listing != "v1" and resource_type.lower() in MIGRATED_TYPES


class ProductIngestion:
    """The one Product Ingestion API call v1 clients need: find a product by its external id."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def routes(self) -> list[Route]:
        return [("GET", PRODUCT_INGESTION + r"/product", self.find)]

    def find(self, request: httpx.Request) -> httpx.Response:
        claims = self.sim.identity.claims(request, GRAPH_AUDIENCE)
        if isinstance(claims, str):
            return json_response(
                401, {"error": {"code": "InvalidAuthenticationToken", "message": claims}}
            )
        wanted = request.url.params.get("externalId", "")
        found = [
            {
                "$schema": "https://schema.mp.microsoft.com/schema/product/2022-03-01-preview2",
                "id": f"product/{p.id}",
                "identity": {"externalId": p.offer_id},
                "type": _resource_kind(p.resource_type),
                "alias": p.name,
            }
            for p in self.sim.world.products.values()
            if p.offer_id == wanted
        ]
        return json_response(200, {"value": found})


def _resource_kind(resource_type: str) -> str:
    return resource_type[:1].lower() + resource_type[1:]


RESELLER_MISSING = {
    "errorCode": "Resell-20007",
    "severity": "Error",
    "message": "ResellerConfiguration module is missing",
    "resource": "ResellerConfiguration",
}


def reseller_branch(product_id: str) -> dict[str, Any]:
    return {
        "resourceType": "Branch",
        "id": f"{product_id}-resellerbranch",
        "friendlyName": "Main",
        "type": "Main",
        "module": "ResellerConfiguration",
        "currentDraftInstanceID": f"{product_id}-resellerinstance",
    }


def lists_reseller(body: dict[str, Any]) -> bool:
    lowered = {k.lower(): v for k, v in body.items()}
    return any(
        str(next((v for k, v in r.items() if k.lower() == "type"), "")).lower()
        == "resellerconfiguration"
        for r in lowered.get("resources") or []
        if isinstance(r, dict)
    )
