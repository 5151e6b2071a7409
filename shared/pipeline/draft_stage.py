"""The draft stage: bring each module the request names to what it asks for, and record
which modules changed, for a modular submission."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from shared.ledger import Run
from shared.messages import Stage
from shared.offer_types import of_run
from shared.partnercenter.errors import Conflict, PreconditionFailed
from shared.partnercenter.models import Draft
from shared.pipeline import listing_files
from shared.pipeline.deps import StageDeps
from shared.pipeline.drafts import (
    EMPTY,
    converge,
    differences,
    instance_of,
    new_listing,
    pick,
    write,
)
from shared.pipeline.outcomes import Advance, Checkpoint, Failed, Finished, Outcome, Patch
from shared.pipeline.package_config import (
    offer_configuration,
    plan_configuration,
    version_regression,
)
from shared.pipeline.packaging import APP, LIBRARIES
from shared.publish_request import DraftChanges
from shared.request_changes import ListingChanges

# Sent on the read and on the PUT: without it the live service ignores market changes.
MARKET_EXPAND = "MarketStates,PriceSchedules,Trial"


@dataclass(frozen=True)
class Target:
    """One module resource the request names, and what it should hold."""

    key: str  # Module or Module@variant, as a submission lists it
    module: str
    collection: str
    variant: str | None
    desired: Callable[[Draft], dict[str, Any]]
    expand: str | None = None
    # Why the draft as read rules the change out (a Business Central version going back).
    guard: Callable[[Draft], str | None] | None = None
    language: str | None = None  # a listing's language (created when the offer lacks it)


class DraftRefused(Exception):
    """The draft as Partner Center holds it rules the request out; the message says why."""


@dataclass(frozen=True)
class Edit:
    """A difference found on reading: the resource as read (with its ETag) and the fields;
    no resource: a listing language to add."""

    target: Target
    instance: str
    draft: Draft | None
    changes: dict[str, Any]


def update_draft(run: Run, deps: StageDeps) -> Outcome:
    """Bring each module the request names to what it asks for, and submit exactly the
    modules that differed.

    Which modules differ is decided once, on the first reading, and recorded (a Checkpoint)
    before anything is written: a redelivery after a crash finds its own edits already in the
    draft, yet submits the same modules a first delivery would have, not every module.
    """
    assert run.product_id is not None
    pid = run.product_id
    targets = draft_targets(run)
    if run.planned_modules is None:
        try:
            edits = [edit for t in targets if (edit := _read(deps, pid, t)) is not None]
        except DraftRefused as exc:
            return Failed(reason=str(exc))
        planned = sorted({e.target.key for e in edits} | listing_files.differing(deps, pid, run))
        if not planned and run.only_changed and not run.packages:
            return Finished(unchanged=True, reason="nothing to change (onlyChanged)")
        if not planned:
            return Advance(
                to=Stage.SUBMIT_PREVIEW, patch=Patch(planned_modules=[], changed_modules=[])
            )
        return Checkpoint(patch=Patch(planned_modules=planned), memo=edits)
    changed = set(run.planned_modules)
    if isinstance(run.memo, list):  # this invocation read them a moment ago
        for edit in run.memo:
            t = edit.target
            if edit.draft is None:
                assert t.language is not None
                deps.pc.create_listing(pid, edit.instance, new_listing(t.language, edit.changes))
                continue
            try:
                write(deps.pc, pid, t.collection, edit.instance, edit.draft, edit.changes, t.expand)
            except (PreconditionFailed, Conflict):  # written meanwhile: compare again
                converge(deps.pc, pid, t.collection, edit.instance, t.desired, t.expand, t.language)
    else:  # a redelivery: converge (PUT only where still different)
        for t in targets:
            instance = instance_of(deps.pc, pid, t.module, t.variant)
            if converge(deps.pc, pid, t.collection, instance, t.desired, t.expand, t.language):
                changed.add(t.key)
    filed, unsettled = listing_files.bring_files(deps, pid, run)
    if unsettled is not None:
        return unsettled
    patch = Patch(changed_modules=sorted(changed | filed))
    return Advance(to=Stage.SUBMIT_PREVIEW, patch=patch)


def _read(deps: StageDeps, pid: str, target: Target) -> Edit | None:
    instance = instance_of(deps.pc, pid, target.module, target.variant)
    resources = deps.pc.drafts(pid, target.collection, instance, target.expand)
    current = pick(resources, target.language)
    if current is None and target.language is not None:
        return Edit(target, instance, None, target.desired(EMPTY))
    if current is None:
        raise LookupError(f"draft instance {instance} has no {target.collection}")
    refused = target.guard(current) if target.guard else None
    if refused:
        raise DraftRefused(refused)
    changes = differences(current.body, target.desired(current))
    return Edit(target, instance, current, changes) if changes else None


def draft_targets(run: Run, *, uploaded: bool = True) -> list[Target]:
    """What the request asks of each module. Not `uploaded` (a plan): the packages are not
    in Partner Center, so package references are left as they are and shown apart."""
    changes = DraftChanges.model_validate(run.changes)
    kind = of_run(run.offer_type)
    targets: list[Target] = []
    targets.extend(_listings(changes.by_language(), None))
    if changes.properties:
        props = changes.properties.fields()
        version = changes.properties.app_version
        guard = (
            partial(version_regression, wanted=version) if version and kind.offer_packages else None
        )
        targets.append(
            Target("Property", "Property", "properties", None, partial(_given, props), guard=guard)
        )
    if changes.availability and kind.offer_markets:
        targets.append(
            Target(
                "Availability",
                "Availability",
                "featureavailabilities",
                None,
                partial(_availability, wanted=changes.availability),
                expand=MARKET_EXPAND,
            )
        )
    if changes.package and kind.offer_packages and uploaded:
        desired = partial(
            offer_configuration,
            kind=kind,
            package=changes.package,
            app_id=run.packages[APP],
            library_id=run.packages.get(LIBRARIES),
        )
        targets.append(Target("Package", "Package", "packageconfigurations", None, desired))
    if changes.preview_audience is not None:
        audience = list(changes.preview_audience)
        targets.append(
            Target(
                "Availability",
                "Availability",
                "productavailabilities",
                None,
                lambda d: {"audiences": _with_preview_audience(d, audience)},
            )
        )
    for plan, plan_changes in sorted(changes.plans.items()):
        variant = run.plans[plan]
        targets.extend(_listings(plan_changes.by_language(), variant))
        if plan_changes.availability:
            targets.append(
                Target(
                    f"Availability@{variant}",
                    "Availability",
                    "featureavailabilities",
                    variant,
                    partial(_availability, wanted=plan_changes.availability),
                    expand=MARKET_EXPAND,
                )
            )
        tech = plan_changes.technical_configuration
        if tech and tech.given():
            targets.append(
                Target(
                    f"Package@{variant}",
                    "Package",
                    "packageconfigurations",
                    variant,
                    partial(
                        plan_configuration,
                        tech=tech,
                        package_id=run.packages.get(plan) if uploaded else None,
                    ),
                )
            )
    return targets


def _listings(by_language: dict[str, ListingChanges], variant: str | None) -> list[Target]:
    """One target a language; the submission lists the Listing module once."""
    key = f"Listing@{variant}" if variant else "Listing"
    return [
        Target(key, "Listing", "listings", variant, partial(_given, c.fields()), language=lang)
        for lang, c in sorted(by_language.items())
    ]


def _with_preview_audience(draft: Draft, subscriptions: list[str]) -> list[Any]:
    audiences = [
        a
        for a in draft.records("audiences")
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
        known = [
            c for m in draft.records("marketStates") if isinstance(c := m.get("marketCode"), str)
        ]
        codes = sorted(set(known) | enabled)
        desired["marketStates"] = [
            {"marketCode": c, "state": "Enabled" if c in enabled else "Disabled"} for c in codes
        ]
    return desired
