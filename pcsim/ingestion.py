"""The Partner Center ingestion API surface (v1.0), as the OpenAPI document shapes it and the
live service behaves: relative `nextLink` paging, JSON-string error bodies, case-insensitive
paths and property names, quoted `@odata.etag` values, If-Match on draft PUTs."""

from __future__ import annotations

import base64
import re
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import quote

import httpx

from pcsim import shapes
from pcsim.bodies import BodyRefused, bound
from pcsim.live import ICH50400, reseller_branch
from pcsim.seed import derived_id
from pcsim.uploads import ListingImage, Package
from pcsim.wire import json_response, param
from pcsim.world import Draft, Product

if TYPE_CHECKING:
    from pcsim.app import Route, Simulator

INGESTION = "/v1.0/ingestion"
DRAFTS = (
    r"(?P<collection>listings|properties|productavailabilities|featureavailabilities|"
    r"packageconfigurations)"
)
GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# Fields the live service checks as GUIDs on write ("Enter a valid GUID").
GUID_FIELDS = frozenset({"publicAzureTenantID", "azureGovernmentTenantID", "leadGenID"})
EXPANDABLE = ("marketStates", "priceSchedules", "trial")


class Refusal(Exception):
    """Carries an error response out of a handler's helpers to the dispatcher."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.status_code)
        self.response = response


class Ingestion:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def routes(self) -> list[Route]:
        p = INGESTION + r"/products"
        pid = p + r"/(?P<pid>[^/]+)"
        return [
            ("GET", p, self.list_products),
            ("POST", p, self.create_product),
            ("GET", pid, self.get_product),
            ("GET", pid + r"/setup", self.get_setup),
            ("GET", pid + r"/branches/getbymodule\(module=(?P<module>[^)]+)\)", self.branches),
            ("GET", pid + r"/variants", self.variants),
            ("GET", pid + r"/variants/(?P<vid>[^/]+)", self.get_variant),
            ("GET", pid + r"/resellerconfiguration", self.get_reseller),
            ("POST", pid + r"/resellerconfiguration", self.post_reseller),
        ]

    # -- helpers --------------------------------------------------------------------------

    @property
    def world(self) -> Any:
        return self.sim.world

    def now(self) -> float:
        return float(self.world.clock.now())

    def error(self, status: int, message: str) -> httpx.Response:
        return self.sim.error(status, message)

    def refuse(self, status: int, message: str) -> NoReturn:
        """Answer with an error from anywhere in a handler (the dispatcher sends it)."""
        raise Refusal(self.error(status, message))

    def check_written(self, body: dict[str, Any]) -> None:
        """Refuse a write the service refuses: wrong types or values for the resource (checked
        against the document when the simulator has it), and ids that must be GUIDs."""
        for key in GUID_FIELDS & set(body):
            value = body[key]
            if value not in (None, "") and not GUID.fullmatch(str(value)):
                self.refuse(400, f"{key}: Enter a valid GUID")
        if self.sim.contract is not None:
            problems = self.sim.contract.write_problems(body)
            if problems:
                self.refuse(400, "The request is invalid. " + "; ".join(problems))

    def product(self, pid: str) -> Product:
        for product in self.world.products.values():
            if product.id.lower() == pid.lower():
                return product  # type: ignore[no-any-return]
        self.refuse(404, f"Product {pid} was not found.")

    def body(self, request: httpx.Request) -> dict[str, Any]:
        try:
            return bound(request)
        except BodyRefused as exc:
            self.refuse(400, str(exc))

    def check_if_match(
        self, request: httpx.Request, etag: str, what: str, required: bool = True
    ) -> httpx.Response | None:
        """Missing If-Match: 400 (when required). Stale: 412, or 409 when so configured."""
        if_match = request.headers.get("If-Match")
        if not if_match:
            return (
                self.error(400, "The If-Match header is required to update this resource.")
                if required
                else None
            )
        if if_match not in (etag, "*"):
            return self.error(
                self.sim.faults.stale_etag_status,
                f"{what} has been modified since it was read (ETag mismatch); read it again.",
            )
        return None

    def mark_uploaded(
        self,
        request: httpx.Request,
        item: Package | ListingImage,
        what: str,
        state: str | None = None,
    ) -> httpx.Response | None:
        """`state: Uploaded` starts processing, once the file is in the blob (`state`: where
        the body nests it, as a video's thumbnail does)."""
        if state is None:
            body = self.body(request)
            state = next((v for k, v in body.items() if k.lower() == "state"), None)
        if state == "Uploaded" and item.marked_uploaded is None:
            store = self.sim.sas_store
            if isinstance(item, Package) and item.sas_uri and store is not None:
                item.uploaded = store.size(item.product_id, item.id, item.file_name)
            if not item.uploaded:
                return self.error(400, f"The {what} file has not been uploaded to its fileSasUri.")
            item.marked_uploaded = self.now()
        item.version += 1
        return None

    def page(self, request: httpx.Request, items: list[dict[str, Any]]) -> httpx.Response:
        token = param(request, "$skipToken")
        if token and self.sim.faults.next_link_404:
            return self.error(404, "The page was not found.")
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
        except ValueError:
            return self.error(400, "Invalid $skipToken.")
        end = start + self.world.page_size
        body: dict[str, Any] = {"value": items[start:end]}
        if end < len(items):
            params = [
                (k, v) for k, v in request.url.params.multi_items() if k.lower() != "$skiptoken"
            ]
            params.append(("$skipToken", base64.urlsafe_b64encode(str(end).encode()).decode()))
            query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params)
            body["nextLink"] = f"{request.url.path.lstrip('/')}?{query}"
        return json_response(200, body)

    # -- products -------------------------------------------------------------------------

    def list_products(self, request: httpx.Request) -> httpx.Response:
        live = self.sim.live
        products = [p for p in self.world.products.values() if not live.migrated(p.resource_type)]
        flt = param(request, "$filter")
        if flt and live.offer_listing == "ich50400" and "externalid" in flt.lower():
            return self.error(400, ICH50400)
        if flt:
            matched = filter_products(products, flt)
            if matched is None:
                return self.error(400, f"Unsupported $filter expression: {flt}")
            products = matched
        return self.page(request, [p.body() for p in products])

    def create_product(self, request: httpx.Request) -> httpx.Response:
        body = self.body(request)
        lowered = {k.lower(): v for k, v in body.items()}
        external = shapes.objects(lowered, "externalids")
        if external is None:  # as the service's model binding refuses it
            return self.error(400, shapes.NOT_OBJECTS)
        offer_id = next(
            (e.get("value") for e in external if str(e.get("type", "")).lower() == "azureofferid"),
            None,
        )
        name, kind = lowered.get("name"), lowered.get("resourcetype", "AzureApplication")
        if not (isinstance(offer_id, str) and offer_id and isinstance(name, str) and name):
            return self.error(400, "name and an AzureOfferId external id are required.")
        if not isinstance(kind, str):
            return self.error(400, "resourceType: a string is required.")
        if any(p.offer_id == offer_id for p in self.world.products.values()):
            return self.error(409, f"An offer with id {offer_id} already exists.")
        product = self.world.add_offer(
            {
                "offerId": offer_id,
                "name": name,
                "resourceType": kind,
            }
        )
        return json_response(201, product.body())

    def get_product(self, request: httpx.Request, pid: str) -> httpx.Response:
        return json_response(200, self.product(pid).body())

    def get_setup(self, request: httpx.Request, pid: str) -> httpx.Response:
        product = self.product(pid)
        return json_response(
            200,
            {
                "resourceType": "AzureProductSetup",
                "sellingOption": "ListingOnly",
                "enableTestDrive": False,
                "channelStates": [{"type": "Reseller", "value": "Enabled"}],
                **(
                    {"packageType": product.package_type}
                    if product.resource_type == shapes.BUSINESS_CENTRAL
                    else {}
                ),
                "id": derived_id("setup", product.id),
            },
        )

    def branches(self, request: httpx.Request, pid: str, module: str) -> httpx.Response:
        product = self.product(pid)
        found = [b.body() for b in product.branches if b.module.lower() == module.lower()]
        if module.lower() == "resellerconfiguration":  # not in the document; live has it
            found.append(reseller_branch(product.id))
        return json_response(200, {"value": found})

    def variants(self, request: httpx.Request, pid: str) -> httpx.Response:
        product = self.product(pid)
        return self.page(request, [v.body() for v in product.variants])

    def get_variant(self, request: httpx.Request, pid: str, vid: str) -> httpx.Response:
        product = self.product(pid)
        for variant in product.variants:
            if variant.id.lower() == vid.lower():
                return json_response(200, variant.body(), {"ETag": variant.body()["@odata.etag"]})
        return self.error(404, f"Variant {vid} was not found.")

    # -- helpers for the other surfaces ------------------------------------------------

    def draft(self, product: Product, collection: str, rid: str) -> Draft:
        draft = product.drafts.get(rid) or next(
            (d for d in product.drafts.values() if d.id.lower() == rid.lower()), None
        )
        if draft is None or draft.collection != collection.lower():
            self.refuse(404, f"Resource {rid} was not found.")
        return draft

    # -- reseller configuration -----------------------------------------------------------

    def get_reseller(self, request: httpx.Request, pid: str) -> httpx.Response:
        product = self.product(pid)
        body = product.reseller or {"resellerChannelState": "Disabled", "tenantIds": []}
        return json_response(
            200,
            {
                "resourceType": "ResellerConfiguration",
                "id": f"{product.id}-ResellerInstance",
                **body,
            },
        )

    def post_reseller(self, request: httpx.Request, pid: str) -> httpx.Response:
        product = self.product(pid)
        body = self.body(request)
        lowered = {k.lower(): v for k, v in body.items()}
        product.reseller = {
            "resellerChannelState": lowered.get("resellerchannelstate", "Disabled"),
            "tenantIds": lowered.get("tenantids", []),
        }
        return self.get_reseller(request, pid)


_EXTERNAL_ID = re.compile(
    r"externalids/any\(\s*(\w+)\s*:\s*\1/type\s+eq\s+'([^']*)'\s+and\s+\1/value\s+eq\s+"
    r"'((?:[^']|'')*)'\s*\)",
    re.IGNORECASE,
)
_RESOURCE_TYPE = re.compile(r"resourcetype\s+eq\s+'([^']*)'", re.IGNORECASE)


def filter_products(products: list[Product], flt: str) -> list[Product] | None:
    """Apply the $filter forms the service supports (eq on ExternalIDs and ResourceType)."""
    rest = flt
    ext = _EXTERNAL_ID.search(rest)
    if ext:
        kind, value = ext.group(2).lower(), ext.group(3).replace("''", "'")
        rest = rest.replace(ext.group(0), "")
        if kind != "azureofferid":
            return []
        products = [p for p in products if p.offer_id == value]
    rtype = _RESOURCE_TYPE.search(rest)
    if rtype:
        rest = rest.replace(rtype.group(0), "")
        products = [p for p in products if p.resource_type.lower() == rtype.group(1).lower()]
    if re.sub(r"\s|and", "", rest, flags=re.IGNORECASE):
        return None
    return products
