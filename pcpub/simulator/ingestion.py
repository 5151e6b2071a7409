"""The Partner Center ingestion API surface (v1.0), as the OpenAPI document shapes it and the
live service behaves: relative `nextLink` paging, JSON-string error bodies, case-insensitive
paths and property names, quoted `@odata.etag` values, If-Match on draft PUTs."""

from __future__ import annotations

import base64
import json
import re
import uuid
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import quote

import httpx

from pcpub.simulator import shapes
from pcpub.simulator.extras import camel
from pcpub.simulator.live import ICH50400, RESELLER_MISSING, lists_reseller, reseller_branch
from pcpub.simulator.seed import derived_id
from pcpub.simulator.wire import json_response
from pcpub.simulator.world import Draft, ListingImage, Package, Product, Submission

if TYPE_CHECKING:
    from pcpub.simulator.app import Route, Simulator

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


# A listing's uploaded files by collection: images, and assets (supporting documents).
MEDIA = {"images": "ListingImage", "assets": "ListingAsset", "videos": "ListingVideo"}


class Ingestion:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def routes(self) -> list[Route]:
        p = INGESTION + r"/products"
        pid = p + r"/(?P<pid>[^/]+)"
        sub = pid + r"/submissions/(?P<sid>\d+)"
        # Listing images, and assets (supporting documents): uploaded files with one life.
        media = pid + r"/listings/(?P<lid>[^/()]+)/(?P<kind>images|assets|videos)"
        return [
            ("GET", p, self.list_products),
            ("POST", p, self.create_product),
            ("GET", pid, self.get_product),
            ("GET", pid + r"/setup", self.get_setup),
            ("GET", pid + r"/branches/getbymodule\(module=(?P<module>[^)]+)\)", self.branches),
            ("GET", pid + r"/variants", self.variants),
            ("GET", pid + r"/variants/(?P<vid>[^/]+)", self.get_variant),
            (
                "GET",
                pid + "/" + DRAFTS + r"/getbyinstanceid\(instanceid=(?P<iid>[^)]+)\)",
                self.drafts_by_instance,
            ),
            ("GET", pid + "/" + DRAFTS + r"/(?P<rid>[^/()]+)", self.get_draft),
            ("PUT", pid + "/" + DRAFTS + r"/(?P<rid>[^/()]+)", self.put_draft),
            ("GET", media, self.list_images),
            ("POST", media, self.create_image),
            ("GET", media + r"/(?P<img>[^/]+)", self.get_image),
            ("PUT", media + r"/(?P<img>[^/]+)", self.put_image),
            ("DELETE", media + r"/(?P<img>[^/]+)", self.delete_image),
            ("GET", pid + r"/resellerconfiguration", self.get_reseller),
            ("POST", pid + r"/resellerconfiguration", self.post_reseller),
            ("GET", pid + r"/submissions", self.list_submissions),
            ("POST", pid + r"/submissions", self.create_submission),
            ("GET", sub, self.get_submission),
            ("DELETE", sub, self.cancel_submission),
            ("POST", sub + r"/promote", self.promote),
            ("GET", sub + r"/workflowdetails", self.workflow_details),
            ("GET", sub + r"/validations", self.validations),
            ("GET", sub + r"/reports", self.reports),
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
            data = json.loads(request.content or b"null")
        except ValueError:
            self.refuse(400, "The request body is not valid JSON.")
        if not isinstance(data, dict):
            self.refuse(400, "A JSON object is required.")
        return data

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
        token = _param(request, "$skipToken")
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
        flt = _param(request, "$filter")
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
        offer_id = next(
            (
                e.get("value")
                for e in lowered.get("externalids") or []
                if str(e.get("type", "")).lower() == "azureofferid"
            ),
            None,
        )
        if not offer_id or not lowered.get("name"):
            return self.error(400, "name and an AzureOfferId external id are required.")
        if any(p.offer_id == offer_id for p in self.world.products.values()):
            return self.error(409, f"An offer with id {offer_id} already exists.")
        product = self.world.add_offer(
            {
                "offerId": offer_id,
                "name": lowered["name"],
                "resourceType": lowered.get("resourcetype", "AzureApplication"),
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

    # -- drafts (listings, properties, availabilities, package configurations) ------------

    def _view(self, request: httpx.Request, draft: Draft) -> dict[str, Any]:
        view = draft.view()
        if draft.collection == "featureavailabilities":
            expand = _param(request, "$expand").lower()
            for key in EXPANDABLE:
                if key.lower() not in expand:
                    view.pop(key, None)
        return view

    def drafts_by_instance(
        self, request: httpx.Request, pid: str, collection: str, iid: str
    ) -> httpx.Response:
        product = self.product(pid)
        found = [
            self._view(request, d)
            for d in product.drafts.values()
            if d.instance_id.lower() == iid.lower() and d.collection == collection.lower()
        ]
        if not found and not any(
            b.draft_instance_id.lower() == iid.lower() for b in product.branches
        ):
            return self.error(404, f"Instance {iid} was not found.")
        return json_response(200, {"value": found})

    def _draft(self, product: Product, collection: str, rid: str) -> Draft:
        draft = product.drafts.get(rid) or next(
            (d for d in product.drafts.values() if d.id.lower() == rid.lower()), None
        )
        if draft is None or draft.collection != collection.lower():
            self.refuse(404, f"Resource {rid} was not found.")
        return draft

    def get_draft(
        self, request: httpx.Request, pid: str, collection: str, rid: str
    ) -> httpx.Response:
        product = self.product(pid)
        draft = self._draft(product, collection, rid)
        return json_response(200, self._view(request, draft))

    def put_draft(
        self, request: httpx.Request, pid: str, collection: str, rid: str
    ) -> httpx.Response:
        product = self.product(pid)
        draft = self._draft(product, collection, rid)
        refused = self.check_if_match(request, draft.etag, f"The resource {rid}")
        if refused is not None:
            return refused
        body = self.body(request)
        known = {k.lower(): k for k in draft.body}
        # Stored and answered in the service's spelling, whatever case the client used.
        incoming = {known.get(k.lower(), camel(k)): v for k, v in body.items()}
        if str(incoming.get("id", rid)).lower() != draft.id.lower():
            return self.error(400, "The id in the body does not match the URL.")
        rtype = incoming.get("resourceType", draft.body["resourceType"])
        if rtype != draft.body["resourceType"]:
            return self.error(400, f"resourceType must be {draft.body['resourceType']}.")
        if draft.collection == "packageconfigurations":
            self.sim.packages.check_configuration(product, incoming)
        merged = {k: v for k, v in incoming.items() if k not in ("id", "@odata.etag")}
        if self.sim.contract is not None:
            merged = self.sim.contract.coerced(merged)
        self.check_written({**merged, "id": draft.id})
        expand = _param(request, "$expand").lower()
        for key in EXPANDABLE:  # parts not expanded on read are kept, not wiped
            ignored = (
                draft.collection == "featureavailabilities"
                and self.sim.live.expand_on_put
                and key.lower() not in expand
            )  # live: without $expand on the PUT, market (etc.) changes are silently dropped
            if key in draft.body and (key not in merged or ignored):
                merged[key] = draft.body[key]
        draft.body = merged
        draft.version += 1
        return json_response(200, self._view(request, draft))

    # -- listing images -------------------------------------------------------------------

    def _listing(self, pid: str, lid: str) -> Product:
        product = self.product(pid)
        self._draft(product, "listings", lid)  # refuses an unknown listing
        return product

    def _image_view(
        self, request: httpx.Request, image: ListingImage, with_sas: bool = False
    ) -> dict[str, Any]:
        expand = _param(request, "$expand").lower()
        return image.view(
            self.now(), self.world.profile, self.sim.base_url, with_sas or "filesasuri" in expand
        )

    def list_images(self, request: httpx.Request, pid: str, lid: str, kind: str) -> httpx.Response:
        product = self._listing(pid, lid)
        images = [
            self._image_view(request, i)
            for i in product.images.values()
            if i.listing_id.lower() == lid.lower() and i.resource_type == MEDIA[kind.lower()]
        ]
        return json_response(200, {"value": images})

    def create_image(self, request: httpx.Request, pid: str, lid: str, kind: str) -> httpx.Response:
        product = self._listing(pid, lid)
        body = self.body(request)
        lowered = {k.lower(): v for k, v in body.items()}
        video = MEDIA[kind.lower()] == "ListingVideo"
        if video:  # the file is the thumbnail's; the video streams from its address
            thumbnail = {k.lower(): v for k, v in dict(lowered.get("thumbnail") or {}).items()}
            lowered = {**lowered, "filename": thumbnail.get("filename"), "type": "Thumbnail"}
            if not str(lowered.get("streaminguri") or "").startswith("https://"):
                return self.error(400, "streamingUri is required.")
        file_name = str(lowered.get("filename") or "")
        file_type = str(lowered.get("type") or "")
        if not re.fullmatch(r"[\w.-]{1,200}", file_name) or not file_type:
            return self.error(400, "fileName and type are required.")
        image_id = str(uuid.uuid4())
        image = ListingImage(
            id=image_id,
            product_id=product.id,
            listing_id=lid,
            file_name=file_name,
            type=file_type,
            order=int(lowered.get("order") or 0),
            sas_signature=uuid.uuid4().hex,
            resource_type=MEDIA[kind.lower()],
            title=str(thumbnail.get("title") or "") if video else "",
            streaming_uri=str(lowered.get("streaminguri") or "") if video else "",
        )
        product.images[image_id] = image
        return json_response(201, self._image_view(request, image, with_sas=True))

    def _image(self, pid: str, lid: str, kind: str, img: str) -> tuple[Product, ListingImage]:
        product = self._listing(pid, lid)
        image = product.images.get(img)
        if (
            image is None
            or image.listing_id.lower() != lid.lower()
            or image.resource_type != MEDIA[kind.lower()]
        ):
            self.refuse(404, f"{MEDIA[kind.lower()]} {img} was not found.")
        assert image is not None
        return product, image

    def get_image(
        self, request: httpx.Request, pid: str, lid: str, kind: str, img: str
    ) -> httpx.Response:
        found = self._image(pid, lid, kind, img)
        return json_response(200, self._image_view(request, found[1]))

    def put_image(
        self, request: httpx.Request, pid: str, lid: str, kind: str, img: str
    ) -> httpx.Response:
        image = self._image(pid, lid, kind, img)[1]
        state = None
        if image.resource_type == "ListingVideo":  # the thumbnail is what is uploaded
            body = {k.lower(): v for k, v in self.body(request).items()}
            nested: dict[str, Any] = dict(body.get("thumbnail") or {})
            state = next((v for k, v in nested.items() if k.lower() == "state"), None)
        refused = self.check_if_match(request, image.etag, f"{image.resource_type} {img}") or (
            self.mark_uploaded(request, image, kind.lower().rstrip("s"), state=state)
        )
        if refused is not None:
            return refused
        order = next((v for k, v in self.body(request).items() if k.lower() == "order"), None)
        if isinstance(order, int) and not isinstance(order, bool):
            image.order = order
        return json_response(200, self._image_view(request, image))

    def delete_image(
        self, request: httpx.Request, pid: str, lid: str, kind: str, img: str
    ) -> httpx.Response:
        found = self._image(pid, lid, kind, img)
        del found[0].images[img]
        return httpx.Response(204)

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

    # -- submissions ----------------------------------------------------------------------

    def _submission(self, pid: str, sid: str) -> tuple[Product, Submission]:
        product = self.product(pid)
        for sub in product.submissions:
            if sub.id == sid:
                return product, sub
        self.refuse(404, f"Submission {sid} was not found for product {pid}.")

    def _view_sub(self, request: httpx.Request, sub: Submission) -> dict[str, Any]:
        body = sub.body(self.now(), self.world.profile)
        expand = _param(request, "$expand").lower()
        if "publishoption" in expand:
            body["publishOption"] = sub.request.get("publishOption", {})
        return body

    def list_submissions(self, request: httpx.Request, pid: str) -> httpx.Response:
        product = self.product(pid)
        return json_response(
            200, {"value": [self._view_sub(request, s) for s in product.submissions]}
        )

    def create_submission(self, request: httpx.Request, pid: str) -> httpx.Response:
        product = self.product(pid)
        body = self.body(request)
        refused = self._check_resources(product, body)
        if refused is not None:
            return refused
        running = self.world.in_flight(product)
        if running is None and self.sim.live.failed_drafts_block:
            running = next((s for s in product.submissions if s.validation_errors), None)
        if running is not None:
            return self.error(
                409,
                f"Submission {running.id} is in progress for product "
                f"{product.id}; a new submission cannot be created until "
                "it completes.",
            )
        sub = Submission(
            id=self.world.new_submission_id(),
            product_id=product.id,
            created=self.now(),
            request=body,
            release_number=len(product.submissions) + 1,
            fail_certification=product.script.certification_failure,
            certify_forever=product.script.certification_hang,
        )
        # Live: Business Central submissions of Package (and Property) alone are accepted.
        needs_reseller = product.resource_type != shapes.BUSINESS_CENTRAL
        if self.sim.live.reseller_required and needs_reseller and not lists_reseller(body):
            sub.validation_errors = [dict(RESELLER_MISSING)]
        elif product.script.validation_failure:
            sub.validation_errors = [
                {
                    "errorCode": "ListingContactMissing",
                    "severity": "Error",
                    "message": "The offer listing needs a customer support contact.",
                    "resource": "Listing",
                }
            ]
        product.submissions.append(sub)
        if self.sim.live.draft_after_submit == "new":
            self.world.fork_drafts(product, body)
        return json_response(self.sim.live.create_status, self._view_sub(request, sub))

    def _check_resources(self, product: Product, body: dict[str, Any]) -> httpx.Response | None:
        known = self.world.instance_modules(product)
        lowered = {k.lower(): v for k, v in body.items()}
        refs: list[tuple[dict[str, Any], Any]] = [(r, None) for r in lowered.get("resources") or []]
        for group in lowered.get("variantresources") or []:
            vid = next((v for k, v in group.items() if k.lower() == "variantid"), None)
            refs += [(r, vid) for r in group.get("resources") or []]
        for ref, vid in refs:
            value = str(next((v for k, v in ref.items() if k.lower() == "value"), ""))
            kind = str(next((v for k, v in ref.items() if k.lower() == "type"), ""))
            found = known.get(value.lower())
            if (
                found is None
                or found[0].lower() != kind.lower()
                or (vid is not None and (found[1] or "").lower() != str(vid).lower())
            ):
                return self.error(
                    400, f"{kind} instance {value} does not belong to product {product.id}."
                )
        return None

    def get_submission(self, request: httpx.Request, pid: str, sid: str) -> httpx.Response:
        found = self._submission(pid, sid)
        return json_response(200, self._view_sub(request, found[1]))

    def cancel_submission(self, request: httpx.Request, pid: str, sid: str) -> httpx.Response:
        found = self._submission(pid, sid)
        product, sub = found
        state, _, _ = sub.status(self.now(), self.world.profile)
        if state != "InProgress":
            return self.error(409, f"Submission {sid} is not in progress and cannot be cancelled.")
        product.submissions.remove(sub)
        return httpx.Response(204)

    def promote(self, request: httpx.Request, pid: str, sid: str) -> httpx.Response:
        found = self._submission(pid, sid)
        _, sub = found
        now = self.now()
        state, substate, _ = sub.status(now, self.world.profile)
        if sub.promoted is not None:
            return self.error(409, f"Submission {sid} has already been promoted.")
        if (state, substate) != ("Published", "ReadyToPublish"):
            return self.error(
                409,
                f"Submission {sid} is {state}/{substate}; only a "
                "submission whose preview is ready "
                "(Published/ReadyToPublish) can be promoted.",
            )
        sub.promoted = now
        return json_response(200, sub.workflow(now, self.world.profile)[-1])

    def workflow_details(self, request: httpx.Request, pid: str, sid: str) -> httpx.Response:
        found = self._submission(pid, sid)
        sub = found[1]
        state, substate, _ = sub.status(self.now(), self.world.profile)
        if self.sim.live.workflow_404_in_preview and (state, substate) == (
            "Published",
            "ReadyToPublish",
        ):  # seen live in 2026: the details vanish while the preview waits
            return self.error(404, f"Workflow details for submission {sid} were not found.")
        return json_response(200, {"value": sub.workflow(self.now(), self.world.profile)})

    def validations(self, request: httpx.Request, pid: str, sid: str) -> httpx.Response:
        found = self._submission(pid, sid)
        return json_response(200, {"value": found[1].validation_errors})

    def reports(self, request: httpx.Request, pid: str, sid: str) -> httpx.Response:
        found = self._submission(pid, sid)
        return json_response(
            200, {"value": found[1].reports(self.now(), self.world.profile, self.sim.base_url)}
        )


def _param(request: httpx.Request, name: str) -> str:
    """A query parameter by case-insensitive name (the service matches OData names so); the
    values of a repeated one joined with commas."""
    return ",".join(v for k, v in request.url.params.multi_items() if k.lower() == name.lower())


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
