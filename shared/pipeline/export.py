"""Target export: the offer as Partner Center holds it, written as a publish request that would
reproduce it (listings in every language, properties, availability and markets, preview
audience, every plan's listing, availability and technical configuration).

Only what a request can set is exported, read exactly as the draft stage compares it, so a plan
of the exported file shows no change. Package files are not exported (Partner Center keeps the
uploads, not a source); a value a request could not carry (too long, not a GUID) is left out
and named in the run's reason. The file's target is `plan`: sending it as it is changes nothing.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ValidationError

from shared.exports import export_blob_name
from shared.ledger import Run
from shared.offer_types import OfferType, of_run
from shared.pipeline.deps import StageDeps
from shared.pipeline.draft_stage import MARKET_EXPAND
from shared.pipeline.drafts import instance_of, language_of, pick
from shared.pipeline.drift import LIVE_SUBSTATES, PREVIEW_SUBSTATES, live_instances
from shared.pipeline.media import KINDS
from shared.pipeline.outcomes import Failed, Finished, Outcome, Patch
from shared.publish_request import PublishRequest
from shared.request_base import EXTERNAL_ID_PATTERN, LANGUAGE_PATTERN
from shared.request_changes import (
    DraftChanges,
    ListingChanges,
    PlanAvailability,
    PropertyChanges,
    TechnicalConfiguration,
)

LISTING = ("title", "summary", "shortDescription", "description", "keywords")
PROPERTY = ("categories", "industries", "termsOfUse", "useEnterpriseContract")
TECHNICAL = {  # request field -> package configuration field
    "version": "version",
    "tenantId": "publicAzureTenantID",
    "allowJitAccess": "allowJitAccess",
    "deploymentMode": "deploymentMode",
    "publisherManagementMode": "publisherManagementMode",
    "customerAccessEnableState": "customerAccessEnableState",
    "allowedCustomerActions": "allowedCustomerActions",
    "allowedDataActions": "allowedDataActions",
}


class _Reader:
    """Reads one offer's modules; keeps what a request can carry, notes what it cannot."""

    def __init__(self, run: Run, deps: StageDeps) -> None:
        assert run.product_id is not None
        self.pid = run.product_id
        self.deps = deps
        self.left_out: list[str] = []
        self.unpublished: list[str] = []
        # Preview or live: the instances the newest such submission listing each module
        # published; the draft: the modules' current draft instances.
        self.published: dict[tuple[str | None, str], str] | None = None
        if run.export_from in ("preview", "live"):
            substates = PREVIEW_SUBSTATES if run.export_from == "preview" else LIVE_SUBSTATES
            self.published = live_instances(deps.pc.submissions(self.pid), substates)

    def fitting(self, model: type[BaseModel], where: str, data: dict[str, Any]) -> dict[str, Any]:
        """The fields of `data` that `model` accepts, one by one (the rest noted)."""
        kept = {}
        for name, value in data.items():
            try:
                model.model_validate({name: value})
            except ValidationError:
                self.left_out.append(f"{where}.{name}")
                continue
            kept[name] = value
        return kept

    def resources(self, module: str, variant: str | None, collection: str) -> list[Any]:
        if self.published is None:
            instance = instance_of(self.deps.pc, self.pid, module, variant)
        elif (variant, module) in self.published:
            instance = self.published[(variant, module)]
        else:  # never published: nothing of it is live (or in preview)
            where = f"{module}@{variant}" if variant else module
            if where not in self.unpublished:
                self.unpublished.append(where)
            return []
        expand = MARKET_EXPAND if collection == "featureavailabilities" else None
        return self.deps.pc.drafts(self.pid, collection, instance, expand)

    def listings(self, variant: str | None, where: str) -> dict[str, Any]:
        found = {}
        for draft in self.resources("Listing", variant, "listings"):
            language = language_of(draft) or "en-us"
            if not re.fullmatch(LANGUAGE_PATTERN, language):
                self.left_out.append(
                    f"{where}listings.{language[:40]!r} (no language a request can name)"
                )
                continue
            data = {k: draft.body[k] for k in LISTING if draft.body.get(k) is not None}
            for kind in KINDS:  # by the names Partner Center holds them under (no file to upload)
                held = self.deps.pc.media(self.pid, draft.id, kind.collection)
                if held:
                    data[kind.field] = [
                        {"type": i.type, "fileName": i.file_name}
                        | ({"order": i.order} if kind.ordered else {})
                        for i in held
                    ]
            clips = self.deps.pc.videos(self.pid, draft.id)
            if clips:
                data["videos"] = [
                    {
                        "title": v.thumbnail.title,
                        "link": v.streaming_uri,
                        "thumbnailName": v.thumbnail.file_name,
                    }
                    for v in clips
                ]
            fields = self.fitting(ListingChanges, f"{where}listings.{language}", data)
            if fields:
                found[language] = fields
        return found

    def availability(self, variant: str | None, where: str) -> dict[str, Any]:
        current = pick(self.resources("Availability", variant, "featureavailabilities"))
        if current is None:
            return {}
        data: dict[str, Any] = {}
        if current.body.get("visibility") is not None:
            data["visibility"] = current.body["visibility"]
        markets = [
            str(m.get("marketCode"))
            for m in current.records("marketStates")
            if str(m.get("state", "")).lower() == "enabled"
        ]
        if markets:
            data["markets"] = sorted(markets)
        return self.fitting(PlanAvailability, f"{where}availability", data)

    def technical(self, variant: str, kind: OfferType, sub_type: str, where: str) -> dict[str, Any]:
        plan_kind = kind.kind(sub_type)
        current = pick(self.resources("Package", variant, "packageconfigurations"))
        if plan_kind is None or current is None:
            return {}
        body, allowed = current.body, plan_kind.technical_fields
        data = {
            r: body[p]
            for r, p in TECHNICAL.items()
            if r in allowed and body.get(p) not in (None, "")
        }
        if "authorizations" in allowed and body.get("publicAzureAuthorizations") is not None:
            data["authorizations"] = [
                {"principalId": a.get("principalID"), "roleDefinitionId": a.get("roleDefinitionID")}
                for a in current.records("publicAzureAuthorizations")
            ]
        return self.fitting(TechnicalConfiguration, f"{where}technicalConfiguration", data)


def export(run: Run, deps: StageDeps) -> Outcome:
    """Read the offer whole and write it as a request (to deps.exports)."""
    assert run.product_id is not None
    if deps.exports is None:
        return Failed(reason="export: this deployment has no export store")
    kind = of_run(run.offer_type)
    reader = _Reader(run, deps)
    changes = _offer_level(reader, kind)
    if kind.has_plans:
        plans = {}
        for variant in deps.pc.variants(run.product_id):
            if not variant.external_id or variant.external_id.lower() == "testdrive":
                continue
            if not re.fullmatch(EXTERNAL_ID_PATTERN, variant.external_id):
                reader.left_out.append(
                    f"plans.{variant.external_id[:60]!r} (no plan id a request can name)"
                )
                continue
            where = f"plans.{variant.external_id}."
            plan: dict[str, Any] = {}
            if listings := reader.listings(variant.id, where):
                plan["listings"] = listings
            if availability := reader.availability(variant.id, where):
                plan["availability"] = availability
            if tech := reader.technical(variant.id, kind, variant.sub_type, where):
                plan["technicalConfiguration"] = tech
            plans[variant.external_id] = plan
        changes["plans"] = plans
    product = deps.pc.get_product(run.product_id)
    named = product.offer_id and re.fullmatch(EXTERNAL_ID_PATTERN, product.offer_id)
    offer = {"externalId": product.offer_id} if named else {"productId": product.id}
    request = {
        "schemaVersion": 1,
        "requestId": f"{run.run_id}-file"[:100],
        "offer": offer,
        "target": "plan",
        "changes": changes,
    }
    PublishRequest.model_validate(request)  # a bug here is a bug: it must not be written
    location = deps.exports.write(export_blob_name(run.run_id), json.dumps(request, indent=2))
    reason = f"exported the {run.export_from or 'draft'} to {location}"
    if reader.unpublished:
        reason += f"; never {run.export_from}: " + ", ".join(reader.unpublished[:20])
    if reader.left_out:
        reason += "; left out (a request cannot carry them): " + ", ".join(reader.left_out[:20])
    return Finished(reason=reason, patch=Patch(export=location))


def _offer_level(reader: _Reader, kind: OfferType) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if listings := reader.listings(None, ""):
        changes["listings"] = listings
    prop = pick(reader.resources("Property", None, "properties"))
    if prop is not None:
        data = {k: prop.body[k] for k in PROPERTY if prop.body.get(k) is not None}
        if kind.offer_packages and prop.body.get("appVersion"):
            data["appVersion"] = prop.body["appVersion"]
        if properties := reader.fitting(PropertyChanges, "properties", data):
            changes["properties"] = properties
    if kind.offer_markets and (availability := reader.availability(None, "")):
        changes["availability"] = availability
    audience = pick(reader.resources("Availability", None, "productavailabilities"))
    groups = [
        a
        for a in (audience.records("audiences") if audience else [])
        if str(a.get("type", "")).lower() == "previewmarketplacegroup"
    ]
    if groups:  # the subscriptions as listed (a shape a request cannot carry is left out)
        data = {"previewAudience": groups[0].get("values") or []}
        changes.update(reader.fitting(DraftChanges, "", data))
    return changes
