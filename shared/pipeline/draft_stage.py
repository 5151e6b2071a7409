"""The draft stage: bring each module the request names to what it asks for, and record
which modules changed, for a modular submission."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from shared.ledger import Run
from shared.messages import Stage
from shared.partnercenter.models import Draft
from shared.pipeline.deps import StageDeps
from shared.pipeline.drafts import converge, instance_of
from shared.pipeline.outcomes import Advance, Outcome, Patch
from shared.publish_request import DraftChanges


def update_draft(run: Run, deps: StageDeps) -> Outcome:
    """Bring each module the request changes to what it asks for (PUT only on a
    difference), and record which modules changed, for a modular submission."""
    assert run.product_id is not None
    pid = run.product_id
    changes = DraftChanges.model_validate(run.changes)
    changed: set[str] = set(run.changed_modules)

    def apply(
        module: str,
        collection: str,
        variant: str | None,
        desired: Callable[[Draft], dict[str, Any]],
        expand: str | None = None,
    ) -> None:
        instance = instance_of(deps.pc, pid, module, variant)
        if converge(deps.pc, pid, collection, instance, desired, expand):
            changed.add(f"{module}@{variant}" if variant else module)

    if changes.listing:
        fields = changes.listing.fields()
        apply("Listing", "listings", None, lambda _: fields)
    if changes.properties:
        props = changes.properties.fields()
        apply("Property", "properties", None, lambda _: props)
    if changes.preview_audience is not None:
        audience = list(changes.preview_audience)
        apply(
            "Availability",
            "productavailabilities",
            None,
            lambda d: {"audiences": _with_preview_audience(d, audience)},
        )
    for plan, plan_changes in sorted(changes.plans.items()):
        variant = run.plans[plan]
        if plan_changes.listing:
            plan_fields = plan_changes.listing.fields()
            apply("Listing", "listings", variant, partial(_given, plan_fields))
        if plan_changes.availability:
            wanted = plan_changes.availability
            apply(
                "Availability",
                "featureavailabilities",
                variant,
                partial(_availability, wanted=wanted),
                expand="MarketStates,PriceSchedules,Trial",
            )
        tech = plan_changes.technical_configuration
        if tech and (tech.version or tech.package):
            package_id = run.packages.get(plan)
            apply(
                "Package",
                "packageconfigurations",
                variant,
                partial(_technical, tech=tech, package_id=package_id),
            )
    return Advance(to=Stage.SUBMIT_PREVIEW, patch=Patch(changed_modules=sorted(changed)))


def _with_preview_audience(draft: Draft, subscriptions: list[str]) -> list[Any]:
    audiences = [
        a
        for a in draft.body.get("audiences") or []
        if str(a.get("type", "")).lower() != "previewmarketplacegroup"
    ]
    return [*audiences, {"type": "PreviewMarketplaceGroup", "values": subscriptions}]


def _given(fields: dict[str, Any], draft: Draft) -> dict[str, Any]:
    return fields


def _availability(draft: Draft, wanted: Any) -> dict[str, Any]:
    desired: dict[str, Any] = {}
    if wanted.visibility:
        desired["visibility"] = wanted.visibility
    if wanted.markets is not None:
        enabled = set(wanted.markets)
        known = [m.get("marketCode") for m in draft.body.get("marketStates") or []]
        codes = sorted(set(known) | enabled)
        desired["marketStates"] = [
            {"marketCode": c, "state": "Enabled" if c in enabled else "Disabled"} for c in codes
        ]
    return desired


def _technical(draft: Draft, tech: Any, package_id: str | None) -> dict[str, Any]:
    desired: dict[str, Any] = {}
    if tech.version:
        desired["version"] = tech.version
    if package_id:
        desired["packageReferences"] = [{"type": "AzureApplicationPackage", "value": package_id}]
    return desired
