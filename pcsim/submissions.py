"""Submissions: created from the draft instances they list (refused while another one is in
flight), certified and published on the world's clock, promoted, cancelled, and read with their
workflow details, validations and reports, as the live service answers them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from pcsim import shapes
from pcsim.ingestion import INGESTION
from pcsim.live import RESELLER_MISSING, lists_reseller
from pcsim.submission_state import Submission
from pcsim.wire import json_response, param
from pcsim.world import Product

if TYPE_CHECKING:
    from pcsim.app import Route, Simulator
    from pcsim.ingestion import Ingestion


class Submissions:
    def __init__(self, sim: Simulator, ingestion: Ingestion) -> None:
        self.sim = sim
        self.api = ingestion

    def routes(self) -> list[Route]:
        pid = INGESTION + r"/products/(?P<pid>[^/]+)"
        sub = pid + r"/submissions/(?P<sid>\d+)"
        return [
            ("GET", pid + r"/submissions", self.list_submissions),
            ("POST", pid + r"/submissions", self.create_submission),
            ("GET", sub, self.get_submission),
            ("DELETE", sub, self.cancel_submission),
            ("POST", sub + r"/promote", self.promote),
            ("GET", sub + r"/workflowdetails", self.workflow_details),
            ("GET", sub + r"/validations", self.validations),
            ("GET", sub + r"/reports", self.reports),
        ]

    def _submission(self, pid: str, sid: str) -> tuple[Product, Submission]:
        product = self.api.product(pid)
        for sub in product.submissions:
            if sub.id == sid:
                return product, sub
        self.api.refuse(404, f"Submission {sid} was not found for product {pid}.")

    def _view_sub(self, request: httpx.Request, sub: Submission) -> dict[str, Any]:
        body = sub.body(self.api.now(), self.api.world.profile)
        expand = param(request, "$expand").lower()
        if "publishoption" in expand:
            body["publishOption"] = sub.request.get("publishOption", {})
        return body

    def list_submissions(self, request: httpx.Request, pid: str) -> httpx.Response:
        product = self.api.product(pid)
        return json_response(
            200, {"value": [self._view_sub(request, s) for s in product.submissions]}
        )

    def create_submission(self, request: httpx.Request, pid: str) -> httpx.Response:
        product = self.api.product(pid)
        body = self.api.body(request)
        refused = self._check_resources(product, body)
        if refused is not None:
            return refused
        running = self.api.world.in_flight(product)
        if running is None and self.sim.live.failed_drafts_block:
            running = next((s for s in product.submissions if s.validation_errors), None)
        if running is not None:
            return self.api.error(
                409,
                f"Submission {running.id} is in progress for product "
                f"{product.id}; a new submission cannot be created until "
                "it completes.",
            )
        sub = Submission(
            id=self.api.world.new_submission_id(),
            product_id=product.id,
            created=self.api.now(),
            request=body,
            release_number=len(product.submissions) + 1,
            fail_certification=product.script.certification_failure,
            certify_forever=product.script.certification_hang,
            certify_seconds=product.script.certification_seconds,
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
            self.api.world.fork_drafts(product, body)
        return json_response(self.sim.live.create_status, self._view_sub(request, sub))

    def _check_resources(self, product: Product, body: dict[str, Any]) -> httpx.Response | None:
        known = self.api.world.instance_modules(product)
        lowered = {k.lower(): v for k, v in body.items()}
        resources = shapes.objects(lowered, "resources")
        groups = shapes.objects(lowered, "variantresources")
        if resources is None or groups is None:  # as the service's model binding refuses it
            return self.api.error(400, shapes.NOT_OBJECTS)
        refs: list[tuple[dict[str, Any], Any]] = [(r, None) for r in resources]
        for group in groups:
            listed = shapes.objects(group, "resources")
            if listed is None:
                return self.api.error(400, shapes.NOT_OBJECTS)
            vid = next((v for k, v in group.items() if k.lower() == "variantid"), None)
            refs += [(r, vid) for r in listed]
        for ref, vid in refs:
            value = str(next((v for k, v in ref.items() if k.lower() == "value"), ""))
            kind = str(next((v for k, v in ref.items() if k.lower() == "type"), ""))
            found = known.get(value.lower())
            if (
                found is None
                or found[0].lower() != kind.lower()
                or (vid is not None and (found[1] or "").lower() != str(vid).lower())
            ):
                return self.api.error(
                    400, f"{kind} instance {value} does not belong to product {product.id}."
                )
        return None

    def get_submission(self, request: httpx.Request, pid: str, sid: str) -> httpx.Response:
        found = self._submission(pid, sid)
        return json_response(200, self._view_sub(request, found[1]))

    def cancel_submission(self, request: httpx.Request, pid: str, sid: str) -> httpx.Response:
        found = self._submission(pid, sid)
        product, sub = found
        state, _, _ = sub.status(self.api.now(), self.api.world.profile)
        if state != "InProgress":
            return self.api.error(
                409, f"Submission {sid} is not in progress and cannot be cancelled."
            )
        product.submissions.remove(sub)
        return httpx.Response(204)

    def promote(self, request: httpx.Request, pid: str, sid: str) -> httpx.Response:
        found = self._submission(pid, sid)
        _, sub = found
        now = self.api.now()
        state, substate, _ = sub.status(now, self.api.world.profile)
        if sub.promoted is not None:
            return self.api.error(409, f"Submission {sid} has already been promoted.")
        if (state, substate) != ("Published", "ReadyToPublish"):
            return self.api.error(
                409,
                f"Submission {sid} is {state}/{substate}; only a "
                "submission whose preview is ready "
                "(Published/ReadyToPublish) can be promoted.",
            )
        sub.promoted = now
        return json_response(200, sub.workflow(now, self.api.world.profile)[-1])

    def workflow_details(self, request: httpx.Request, pid: str, sid: str) -> httpx.Response:
        found = self._submission(pid, sid)
        sub = found[1]
        state, substate, _ = sub.status(self.api.now(), self.api.world.profile)
        if self.sim.live.workflow_404_in_preview and (state, substate) == (
            "Published",
            "ReadyToPublish",
        ):  # seen live in 2026: the details vanish while the preview waits
            return self.api.error(404, f"Workflow details for submission {sid} were not found.")
        return json_response(200, {"value": sub.workflow(self.api.now(), self.api.world.profile)})

    def validations(self, request: httpx.Request, pid: str, sid: str) -> httpx.Response:
        found = self._submission(pid, sid)
        return json_response(200, {"value": found[1].validation_errors})

    def reports(self, request: httpx.Request, pid: str, sid: str) -> httpx.Response:
        found = self._submission(pid, sid)
        return json_response(
            200,
            {"value": found[1].reports(self.api.now(), self.api.world.profile, self.sim.base_url)},
        )
