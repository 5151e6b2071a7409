"""The rest of the document's operations, so a client that works against the simulator works
against the service: product delete and setup, plan create, update and delete, listing
languages (createWithInstanceID, delete), listing assets and videos, co-sell assets and
listing, lead configuration, supplemental content, and the property and availability lists.

Child resources (assets, videos, co-sell assets) live in one store per product; writes are
validated for what the service checks (the resourceType, `If-Match` on PUT) and answered with
canonical camelCase names whatever case the client used.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import httpx

from pcsim.seed import derived_id
from pcsim.wire import canonical, json_response
from pcsim.world import Draft

if TYPE_CHECKING:
    from pcsim.app import Route, Simulator
    from pcsim.ingestion import Ingestion

# collection in the path -> (resourceType, fields a new one starts with)
CHILDREN: dict[str, tuple[str, dict[str, Any]]] = {
    "assets": ("ListingAsset", {"type": "", "state": "PendingUpload", "fileName": ""}),
    "videos": ("ListingVideo", {"state": "PendingUpload", "fileName": ""}),
    "cosellassets": ("CosellAsset", {"type": "", "state": "PendingUpload", "fileName": ""}),
}


class Extras:
    def __init__(self, sim: Simulator, ingestion: Ingestion) -> None:
        self.sim = sim
        self.api = ingestion
        self.children: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {}
        self.singletons: dict[tuple[str, str], dict[str, Any]] = {}

    def routes(self) -> list[Route]:
        from pcsim.ingestion import INGESTION

        pid = INGESTION + r"/products/(?P<pid>[^/]+)"
        lid = pid + r"/listings/(?P<lid>[^/()]+)"  # its images, assets, videos: ingestion's
        cosell = pid + r"/(?P<kind>cosellassets)"
        by_instance = r"/getbyinstanceid\(instanceid=(?P<iid>[^)]+)\)"
        return [
            ("DELETE", pid, self.delete_product),
            ("POST", pid + r"/setup", self.post_setup),
            ("POST", pid + r"/variants", self.create_variant),
            ("PUT", pid + r"/variants/(?P<vid>[^/]+)", self.put_variant),
            ("DELETE", pid + r"/variants/(?P<vid>[^/]+)", self.delete_variant),
            (
                "POST",
                pid + r"/listings/createwithinstanceid\(instanceid=(?P<iid>[^)]+)\)",
                self.create_listing,
            ),
            ("DELETE", lid, self.delete_listing),
            ("GET", cosell, self.list_children),
            ("POST", cosell, self.create_child),
            ("GET", cosell + by_instance, self.list_children),
            ("GET", cosell + r"/(?P<cid>[^/()]+)", self.get_child),
            ("PUT", cosell + r"/(?P<cid>[^/()]+)", self.put_child),
            ("DELETE", cosell + r"/(?P<cid>[^/()]+)", self.delete_child),
            ("GET", pid + r"/coselllisting" + by_instance, self.cosell_by_instance),
            ("GET", pid + r"/coselllisting/(?P<iid>[^/()]+)", self.get_cosell),
            ("PUT", pid + r"/coselllisting/(?P<iid>[^/()]+)", self.put_cosell),
            ("GET", pid + r"/leadconfiguration", self.get_lead),
            ("POST", pid + r"/leadconfiguration", self.post_lead),
            ("GET", pid + r"/supplementalcontents" + by_instance, self.supplemental_by_instance),
            ("GET", pid + r"/supplementalcontents/(?P<iid>[^/()]+)", self.get_supplemental),
            ("PUT", pid + r"/supplementalcontents/(?P<iid>[^/()]+)", self.put_supplemental),
            ("POST", pid + r"/supplementalcontents/(?P<iid>[^/()]+)/commit", self.commit),
            ("GET", pid + r"/(?P<collection>properties|productavailabilities)", self.list_drafts),
            ("POST", pid + r"/(?P<collection>properties|productavailabilities)", self.add_draft),
        ]

    # -- helpers --------------------------------------------------------------------------

    def _body(self, request: httpx.Request, resource_type: str) -> dict[str, Any]:
        body = self.api.body(request)
        given = next((v for k, v in body.items() if k.lower() == "resourcetype"), resource_type)
        if str(given).lower() != resource_type.lower():
            self.api.refuse(
                400, "The resourceType in the request body doesn't match the actual resource type."
            )
        fixed = canonical(body, resource_type)
        self.api.check_written({k: v for k, v in fixed.items() if k != "@odata.etag"})
        return fixed

    def _etagged(self, body: dict[str, Any]) -> dict[str, Any]:
        return {**body, "@odata.etag": f'"{uuid.uuid4()}"'}

    # -- products, setup, plans -------------------------------------------------------------

    def delete_product(self, request: httpx.Request, pid: str) -> httpx.Response:
        product = self.api.product(pid)
        if self.sim.world.in_flight(product) is not None:
            return self.api.error(409, f"Product {pid} has a submission in progress.")
        del self.sim.world.products[product.id]
        return httpx.Response(204)

    def post_setup(self, request: httpx.Request, pid: str) -> httpx.Response:
        product = self.api.product(pid)
        body = self._body(request, "AzureProductSetup")
        setup = {**body, "id": derived_id("setup", product.id)}
        self.singletons[(product.id, "setup")] = setup
        return json_response(201, setup)

    def create_variant(self, request: httpx.Request, pid: str) -> httpx.Response:
        product = self.api.product(pid)
        body = self._body(request, "AzureSkuVariant")
        plan_id = str(body.get("externalID") or "")
        if not plan_id or not body.get("friendlyName"):
            return self.api.error(400, "externalID and friendlyName are required.")
        if any(v.plan_id == plan_id for v in product.variants):
            return self.api.error(409, f"A plan with id {plan_id} already exists.")
        sub_type = str(body.get("subType") or "managed-application")
        if sub_type not in ("managed-application", "solution-template"):
            return self.api.error(400, "subType must be managed-application or solution-template.")
        variant = self.api.world.add_plan(product, plan_id, str(body["friendlyName"]), sub_type)
        return json_response(201, variant.body(), {"ETag": variant.body()["@odata.etag"]})

    def put_variant(self, request: httpx.Request, pid: str, vid: str) -> httpx.Response:
        product = self.api.product(pid)
        variant = next((v for v in product.variants if v.id.lower() == vid.lower()), None)
        if variant is None:
            return self.api.error(404, f"Variant {vid} was not found.")
        body = self._body(request, "AzureSkuVariant")
        if body.get("friendlyName"):
            variant.name = str(body["friendlyName"])
        return json_response(200, variant.body(), {"ETag": variant.body()["@odata.etag"]})

    def delete_variant(self, request: httpx.Request, pid: str, vid: str) -> httpx.Response:
        product = self.api.product(pid)
        variant = next((v for v in product.variants if v.id.lower() == vid.lower()), None)
        if variant is None:
            return self.api.error(404, f"Variant {vid} was not found.")
        product.variants.remove(variant)
        product.branches = [b for b in product.branches if b.variant_id != variant.id]
        return httpx.Response(204)

    # -- listings: languages, assets, videos ------------------------------------------------

    def create_listing(self, request: httpx.Request, pid: str, iid: str) -> httpx.Response:
        product = self.api.product(pid)
        body = self._body(request, "AzureListing")
        if not any(b.draft_instance_id.lower() == iid.lower() for b in product.branches):
            return self.api.error(404, f"Draft instance {iid} was not found.")
        did = str(uuid.uuid4())
        draft = Draft(did, "listings", iid, {k: v for k, v in body.items() if k != "id"})
        product.drafts[did] = draft
        return json_response(201, draft.view())

    def delete_listing(self, request: httpx.Request, pid: str, lid: str) -> httpx.Response:
        product = self.api.product(pid)
        draft = product.drafts.get(lid)
        if draft is None or draft.collection != "listings":
            return self.api.error(404, f"Listing {lid} was not found.")
        del product.drafts[lid]
        return httpx.Response(204)

    def _store(self, pid: str, kind: str, lid: str = "") -> dict[str, dict[str, Any]]:
        product = self.api.product(pid)
        return self.children.setdefault((product.id, lid, kind.lower()), {})

    def list_children(
        self, request: httpx.Request, pid: str, kind: str, lid: str = "", iid: str = ""
    ) -> httpx.Response:
        return json_response(200, {"value": list(self._store(pid, kind, lid).values())})

    def create_child(
        self, request: httpx.Request, pid: str, kind: str, lid: str = ""
    ) -> httpx.Response:
        resource_type, starts = CHILDREN[kind.lower()]
        body = self._body(request, resource_type)
        cid = str(uuid.uuid4())
        child = self._etagged({**starts, **body, "id": cid})
        child["fileSasUri"] = f"{self.sim.base_url}/_blobs/{pid}/{cid}/{child.get('fileName')}"
        self._store(pid, kind, lid)[cid] = child
        return json_response(200 if kind.lower() == "cosellassets" else 201, child)

    def _child(self, pid: str, kind: str, lid: str, cid: str) -> dict[str, Any]:
        child = self._store(pid, kind, lid).get(cid)
        if child is None:
            self.api.refuse(404, f"{CHILDREN[kind.lower()][0]} {cid} was not found.")
        assert child is not None
        return child

    def get_child(
        self, request: httpx.Request, pid: str, kind: str, cid: str, lid: str = ""
    ) -> httpx.Response:
        return json_response(200, self._child(pid, kind, lid, cid))

    def put_child(
        self, request: httpx.Request, pid: str, kind: str, cid: str, lid: str = ""
    ) -> httpx.Response:
        child = self._child(pid, kind, lid, cid)
        refused = self.api.check_if_match(request, child["@odata.etag"], f"The resource {cid}")
        if refused is not None:
            return refused
        body = self._body(request, CHILDREN[kind.lower()][0])
        if str(body.get("state", "")).lower() == "uploaded":
            body["state"] = "Processed"  # the simulator's blobs are processed at once
        updated = self._etagged({**child, **body, "id": cid})
        self._store(pid, kind, lid)[cid] = updated
        return json_response(200, updated)

    def delete_child(
        self, request: httpx.Request, pid: str, kind: str, cid: str, lid: str = ""
    ) -> httpx.Response:
        self._child(pid, kind, lid, cid)
        del self._store(pid, kind, lid)[cid]
        return httpx.Response(204)

    # -- singletons per instance: co-sell listing, supplemental content -------------------

    def _singleton(self, pid: str, name: str, iid: str, resource_type: str) -> dict[str, Any]:
        product = self.api.product(pid)
        key = (product.id, f"{name}:{iid.lower()}")
        if key not in self.singletons:
            self.singletons[key] = self._etagged({"resourceType": resource_type, "id": iid})
        return self.singletons[key]

    def _put_singleton(
        self, request: httpx.Request, pid: str, name: str, iid: str, resource_type: str
    ) -> httpx.Response:
        current = self._singleton(pid, name, iid, resource_type)
        refused = self.api.check_if_match(request, current["@odata.etag"], f"The resource {iid}")
        if refused is not None:
            return refused
        body = self._body(request, resource_type)
        updated = self._etagged({**current, **body, "id": iid})
        self.singletons[(self.api.product(pid).id, f"{name}:{iid.lower()}")] = updated
        return json_response(200, updated)

    def cosell_by_instance(self, request: httpx.Request, pid: str, iid: str) -> httpx.Response:
        return json_response(200, {"value": [self._singleton(pid, "cosell", iid, "CosellListing")]})

    def get_cosell(self, request: httpx.Request, pid: str, iid: str) -> httpx.Response:
        return json_response(200, self._singleton(pid, "cosell", iid, "CosellListing"))

    def put_cosell(self, request: httpx.Request, pid: str, iid: str) -> httpx.Response:
        return self._put_singleton(request, pid, "cosell", iid, "CosellListing")

    def supplemental_by_instance(
        self, request: httpx.Request, pid: str, iid: str
    ) -> httpx.Response:
        content = self._singleton(pid, "supplemental", iid, "SupplementalContent")
        return json_response(200, {"value": [content]})

    def get_supplemental(self, request: httpx.Request, pid: str, iid: str) -> httpx.Response:
        return json_response(200, self._singleton(pid, "supplemental", iid, "SupplementalContent"))

    def put_supplemental(self, request: httpx.Request, pid: str, iid: str) -> httpx.Response:
        return self._put_singleton(request, pid, "supplemental", iid, "SupplementalContent")

    def commit(self, request: httpx.Request, pid: str, iid: str) -> httpx.Response:
        return json_response(200, self._singleton(pid, "supplemental", iid, "SupplementalContent"))

    # -- lead configuration ---------------------------------------------------------------

    def get_lead(self, request: httpx.Request, pid: str) -> httpx.Response:
        product = self.api.product(pid)
        lead = self.singletons.get((product.id, "lead"))
        if lead is None:
            return self.api.error(404, f"Product {pid} has no lead configuration.")
        return json_response(200, lead)

    def post_lead(self, request: httpx.Request, pid: str) -> httpx.Response:
        product = self.api.product(pid)
        body = self.api.body(request)
        kind = next((v for k, v in body.items() if k.lower() == "resourcetype"), None)
        if not isinstance(kind, str) or not kind.endswith("LeadConfiguration"):
            return self.api.error(400, "resourceType must name a lead configuration type.")
        lead = canonical(body, kind)
        self.singletons[(product.id, "lead")] = lead
        return json_response(200, lead)

    # -- the property and availability lists ------------------------------------------------

    def list_drafts(self, request: httpx.Request, pid: str, collection: str) -> httpx.Response:
        product = self.api.product(pid)
        found = [d.view() for d in product.drafts.values() if d.collection == collection.lower()]
        return json_response(200, {"value": found})

    def add_draft(self, request: httpx.Request, pid: str, collection: str) -> httpx.Response:
        product = self.api.product(pid)
        kind = "AzureProperty" if collection.lower() == "properties" else "ProductAvailability"
        body = self._body(request, kind)
        did = str(uuid.uuid4())
        draft = Draft(did, collection.lower(), f"{product.id}-{did}", body)
        product.drafts[did] = draft
        return json_response(200 if kind == "AzureProperty" else 201, draft.view())
