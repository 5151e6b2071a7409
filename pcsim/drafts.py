"""Drafts read and written by id: listings, properties, product and feature availabilities and
package configurations. Writes need the ETag read (If-Match), keep the service's spelling of
every property whatever case the client used, and, as live, drop market changes on a feature
availability PUT sent without `$expand`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from pcsim.ingestion import DRAFTS, EXPANDABLE, INGESTION
from pcsim.wire import camel, json_response, param
from pcsim.world import Draft

if TYPE_CHECKING:
    from pcsim.app import Route, Simulator
    from pcsim.ingestion import Ingestion


class Drafts:
    def __init__(self, sim: Simulator, ingestion: Ingestion) -> None:
        self.sim = sim
        self.api = ingestion

    def routes(self) -> list[Route]:
        drafts = INGESTION + r"/products/(?P<pid>[^/]+)/" + DRAFTS
        return [
            (
                "GET",
                drafts + r"/getbyinstanceid\(instanceid=(?P<iid>[^)]+)\)",
                self.drafts_by_instance,
            ),
            ("GET", drafts + r"/(?P<rid>[^/()]+)", self.get_draft),
            ("PUT", drafts + r"/(?P<rid>[^/()]+)", self.put_draft),
        ]

    def _view(self, request: httpx.Request, draft: Draft) -> dict[str, Any]:
        view = draft.view()
        if draft.collection == "featureavailabilities":
            expand = param(request, "$expand").lower()
            for key in EXPANDABLE:
                if key.lower() not in expand:
                    view.pop(key, None)
        return view

    def drafts_by_instance(
        self, request: httpx.Request, pid: str, collection: str, iid: str
    ) -> httpx.Response:
        product = self.api.product(pid)
        found = [
            self._view(request, d)
            for d in product.drafts.values()
            if d.instance_id.lower() == iid.lower() and d.collection == collection.lower()
        ]
        if not found and not any(
            b.draft_instance_id.lower() == iid.lower() for b in product.branches
        ):
            return self.api.error(404, f"Instance {iid} was not found.")
        return json_response(200, {"value": found})

    def get_draft(
        self, request: httpx.Request, pid: str, collection: str, rid: str
    ) -> httpx.Response:
        product = self.api.product(pid)
        draft = self.api.draft(product, collection, rid)
        return json_response(200, self._view(request, draft))

    def put_draft(
        self, request: httpx.Request, pid: str, collection: str, rid: str
    ) -> httpx.Response:
        product = self.api.product(pid)
        draft = self.api.draft(product, collection, rid)
        refused = self.api.check_if_match(request, draft.etag, f"The resource {rid}")
        if refused is not None:
            return refused
        body = self.api.body(request)
        known = {k.lower(): k for k in draft.body}
        # Stored and answered in the service's spelling, whatever case the client used.
        incoming = {known.get(k.lower(), camel(k)): v for k, v in body.items()}
        if str(incoming.get("id", rid)).lower() != draft.id.lower():
            return self.api.error(400, "The id in the body does not match the URL.")
        rtype = incoming.get("resourceType", draft.body["resourceType"])
        if rtype != draft.body["resourceType"]:
            return self.api.error(400, f"resourceType must be {draft.body['resourceType']}.")
        if draft.collection == "packageconfigurations":
            self.sim.packages.check_configuration(product, incoming)
        merged = {k: v for k, v in incoming.items() if k not in ("id", "@odata.etag")}
        merged["resourceType"] = rtype  # a resource keeps its type, sent or not (a later
        # PUT's check raised a KeyError, a 500, once a PUT without it had replaced the body)
        if self.sim.contract is not None:
            merged = self.sim.contract.coerced(merged)
        self.api.check_written({**merged, "id": draft.id})
        expand = param(request, "$expand").lower()
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
