"""The stages of a publish run, each `(run, deps) -> Outcome`, and their order in one table.

    intake -> resolve -> upload_package -> [await_package] -> update_draft -> submit_preview
           -> [await_preview] -> promote -> [await_live] -> complete
    (no package: resolve -> update_draft; target preview: [await_preview] -> complete)

Bracketed stages are checks the timer poller runs; the others are queue-triggered. A stage only
talks to Partner Center through `deps.pc`; recording and hand-off are shared.pipeline.effects'.
Each stage is safe to run twice: it reads Partner Center's state before any call that changes it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, Protocol

from shared.ledger import Run
from shared.messages import Stage
from shared.partnercenter.errors import Conflict, NotFound, PartnerCenterError, PreconditionFailed
from shared.partnercenter.models import (
    CertificationReport,
    Draft,
    Package,
    Product,
    Submission,
    ValidationItem,
    Variant,
    WorkflowDetail,
)
from shared.partnercenter.status import Phase, in_flight, phase_of
from shared.pipeline.drafts import DraftApi, converge, instance_of
from shared.pipeline.outcomes import Advance, Failed, Finished, Outcome, Patch, Wait
from shared.publish_request import DraftChanges, PackageSource

# Modules a submission publishes, offer level and per plan.
SUBMITTED_MODULES = ("Availability", "Listing", "Property", "Package")


class PartnerCenterApi(DraftApi, Protocol):
    def get_product(self, product_id: str) -> Product: ...
    def find_products(self, offer_id: str) -> list[Product]: ...
    def submissions(self, product_id: str) -> list[Submission]: ...
    def get_submission(self, product_id: str, submission_id: str) -> Submission: ...
    def create_submission(self, product_id: str, body: Mapping[str, Any]) -> Submission: ...
    def promote(self, product_id: str, submission_id: str) -> None: ...
    def validations(self, product_id: str, submission_id: str) -> list[ValidationItem]: ...
    def workflow_details(self, product_id: str, submission_id: str) -> list[WorkflowDetail]: ...
    def reports(self, product_id: str, submission_id: str) -> list[CertificationReport]: ...
    def variants(self, product_id: str) -> list[Variant]: ...
    def packages(self, product_id: str) -> list[Package]: ...
    def get_package(self, product_id: str, package_id: str) -> Package: ...
    def create_package(
        self, product_id: str, file_name: str, resource_type: str = ...
    ) -> Package: ...
    def mark_uploaded(self, product_id: str, package: Package) -> Package: ...


class PackageFiles(Protocol):
    """Where package bytes come from and go to (blob storage, outside Partner Center)."""

    def check(self, source: PackageSource) -> int: ...
    def read(self, source: PackageSource) -> bytes: ...
    def upload(self, sas_uri: str, data: bytes) -> None: ...


# (product id, run id) -> the other run holding the offer's turn, if any
OfferLock = Callable[[str, str], "str | None"]


@dataclass(frozen=True, kw_only=True)
class StageDeps:
    pc: PartnerCenterApi
    poll_seconds: float = 60.0
    offer_lock: OfferLock | None = None
    files: PackageFiles | None = None
    foreign_submission: Literal["wait", "fail"] = "wait"


StageFn = Callable[[Run, StageDeps], Outcome]


def resolve(run: Run, deps: StageDeps) -> Outcome:
    """Find the product and plans, take the offer's turn, and refuse to start while another
    submission is in flight (waiting for it, or failing, as configured)."""
    if run.product_id:
        try:
            product = deps.pc.get_product(run.product_id)
        except NotFound:
            return Failed(reason=f"unknown offer: no product {run.product_id}", rejected=True)
    else:
        assert run.offer_external_id
        found = deps.pc.find_products(run.offer_external_id)
        if not found:
            return Failed(
                reason=f"unknown offer: no product has offer id {run.offer_external_id!r}",
                rejected=True,
            )
        if len(found) > 1:
            return Failed(
                reason=f"offer id {run.offer_external_id!r} matches {len(found)} products",
                rejected=True,
            )
        product = found[0]
    changes = DraftChanges.model_validate(run.changes)
    plans: dict[str, str] = {}
    if changes.plans:
        by_plan = {v.external_id: v.id for v in deps.pc.variants(product.id)}
        unknown = sorted(set(changes.plans) - set(by_plan))
        if unknown:
            return Failed(
                reason=f"unknown plan(s) {', '.join(unknown)} in offer "
                f"{product.offer_id or product.id}",
                rejected=True,
                patch=Patch(product_id=product.id),
            )
        plans = {plan: by_plan[plan] for plan in changes.plans}
    patch = Patch(product_id=product.id, plans=plans)
    if deps.offer_lock is not None:
        holder = deps.offer_lock(product.id, run.run_id)
        if holder is not None:
            return Wait(
                check=Stage.RESOLVE,
                delay_seconds=deps.poll_seconds,
                reason=f"waiting for run {holder}, which is publishing this offer",
                patch=patch,
            )
    latest = _latest(deps.pc.submissions(product.id))
    if latest is not None and in_flight(latest):
        reason = f"submission {latest.id} started elsewhere is in flight ({latest.status})"
        if deps.foreign_submission == "fail":
            return Failed(reason=reason + "; not starting another", patch=patch)
        return Wait(
            check=Stage.RESOLVE,
            delay_seconds=deps.poll_seconds,
            reason=reason + "; waiting for it",
            patch=patch,
        )
    next_stage = Stage.UPLOAD_PACKAGE if changes.package_plans else Stage.UPDATE_DRAFT
    return Advance(
        to=next_stage,
        patch=Patch(
            product_id=product.id, plans=plans, baseline_submission_id=latest.id if latest else ""
        ),
    )


def upload_package(run: Run, deps: StageDeps) -> Outcome:
    """Create each plan's package, upload its file to the SAS URI, mark it uploaded.

    Package names carry the run id, so a redelivery finds the package an earlier delivery
    created (listing packages) instead of creating another. Every source is checked (allowed,
    present, within the size limit) before the first package is created, so a bad source
    leaves no package behind.
    """
    assert run.product_id is not None and deps.files is not None
    pid = run.product_id
    changes = DraftChanges.model_validate(run.changes)
    for plan, source in sorted(changes.package_plans.items()):
        if plan not in run.packages:
            deps.files.check(source)
    # Only a repeated attempt can have created packages already: the first one need not look.
    existing = {p.file_name: p for p in deps.pc.packages(pid)} if run.attempts != 1 else {}
    done = dict(run.packages)
    for plan, source in sorted(changes.package_plans.items()):
        if plan in done:
            continue
        name = package_file_name(run.run_id, plan, source)
        package = existing.get(name)
        if package is None:
            package = deps.pc.create_package(pid, name)
        if package.state == "PendingUpload":
            assert package.file_sas_uri, "Partner Center gave no upload URI"
            deps.files.upload(package.file_sas_uri, deps.files.read(source))
            try:
                package = deps.pc.mark_uploaded(pid, package)
            except (PreconditionFailed, Conflict):
                package = deps.pc.get_package(pid, package.id)  # marked meanwhile?
                if package.state == "PendingUpload":
                    raise
        done[plan] = package.id
    return Wait(
        check=Stage.AWAIT_PACKAGE,
        delay_seconds=deps.poll_seconds,
        reason="package processing",
        patch=Patch(packages=done),
    )


def package_file_name(run_id: str, plan: str, source: PackageSource) -> str:
    return re.sub(r"[^\w.-]", "-", f"{run_id}-{plan}-{source.file_name}")[:200]


def await_package(run: Run, deps: StageDeps) -> Outcome:
    """Poll until every uploaded package is Processed, or fail with its validation items."""
    assert run.product_id is not None
    for plan, package_id in sorted(run.packages.items()):
        package = deps.pc.get_package(run.product_id, package_id)
        if package.state == "ProcessFailed":
            items = (
                "; ".join(
                    f"{i.severity or 'Error'} {i.error_code}: {i.message}"
                    for i in package.validation_items
                )
                or "no details given"
            )
            return Failed(reason=f"package for plan {plan} failed processing: {items}")
        if package.state != "Processed":
            return Wait(
                check=Stage.AWAIT_PACKAGE,
                delay_seconds=deps.poll_seconds,
                reason=f"package for plan {plan} is {package.state}",
            )
    return Advance(to=Stage.UPDATE_DRAFT)


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


def submit_preview(run: Run, deps: StageDeps) -> Outcome:
    """Create the submission to preview, unless an earlier delivery of this stage already did.

    A submission newer than the one seen at resolve is this run's: the run holds its offer's
    turn, so nothing else of ours submits meanwhile.
    """
    assert run.product_id is not None
    pid = run.product_id
    # Only a repeated attempt can have created it already: the first one need not look.
    mine = _created_since_resolve(run, deps) if run.attempts != 1 else None
    if mine is None:
        body = _submission_request(pid, deps, set(run.changed_modules))
        try:
            mine = deps.pc.create_submission(pid, body)
        except Conflict as exc:
            mine = _created_since_resolve(run, deps)
            if mine is None:
                return Failed(reason=f"Partner Center refused the submission: {exc}")
        except PartnerCenterError as exc:
            if exc.transient and (mine := _created_since_resolve(run, deps)) is not None:
                pass  # the POST did happen; adopt it
            else:
                raise
    return Wait(
        check=Stage.AWAIT_PREVIEW,
        delay_seconds=deps.poll_seconds,
        reason="certification for preview",
        patch=Patch(submission_id=mine.id, pc_status=mine.status),
    )


def await_preview(run: Run, deps: StageDeps) -> Outcome:
    """Poll until the preview is ready (Published/ReadyToPublish) or the submission failed."""
    sub = _submission(run, deps)
    patch = Patch(pc_status=sub.status)
    phase = phase_of(sub)
    if phase is Phase.FAILED:
        return Failed(reason=failure_reason(run, sub, deps), patch=patch)
    if phase is Phase.RUNNING:
        return Wait(
            check=Stage.AWAIT_PREVIEW,
            delay_seconds=deps.poll_seconds,
            reason="certification for preview",
            patch=patch,
        )
    if run.target == "preview":
        return Advance(to=Stage.COMPLETE, patch=patch)
    if phase is Phase.PREVIEW_READY:
        return Advance(to=Stage.PROMOTE, patch=patch)
    return Wait(
        check=Stage.AWAIT_LIVE,
        delay_seconds=deps.poll_seconds,
        reason="publishing live",
        patch=patch,
    )


def promote(run: Run, deps: StageDeps) -> Outcome:
    """Take the preview live. Partner Center refuses a promote that is early or repeated, so
    the call goes first and the submission is read only when it was refused or the answer
    was lost: a promote an earlier delivery made is never repeated."""
    assert run.product_id
    assert run.submission_id
    try:
        deps.pc.promote(run.product_id, run.submission_id)
    except PartnerCenterError as exc:
        if not (exc.transient or isinstance(exc, Conflict)):
            raise
        sub = _submission(run, deps)
        phase = phase_of(sub)
        patch = Patch(pc_status=sub.status)
        if phase is Phase.FAILED:
            return Failed(reason=failure_reason(run, sub, deps), patch=patch)
        if phase is Phase.RUNNING:  # not ready after all: back to waiting for the preview
            return Wait(
                check=Stage.AWAIT_PREVIEW,
                delay_seconds=deps.poll_seconds,
                reason="preview not ready",
                patch=patch,
            )
        if phase is Phase.PREVIEW_READY:
            raise  # refused or lost, and not promoted: try again later
    return Wait(check=Stage.AWAIT_LIVE, delay_seconds=deps.poll_seconds, reason="publishing live")


def await_live(run: Run, deps: StageDeps) -> Outcome:
    """Poll until the submission is in the store (Published/InStore) or failed."""
    sub = _submission(run, deps)
    patch = Patch(pc_status=sub.status)
    phase = phase_of(sub)
    if phase is Phase.FAILED:
        return Failed(reason=failure_reason(run, sub, deps), patch=patch)
    if phase is Phase.LIVE:
        return Advance(to=Stage.COMPLETE, patch=patch)
    return Wait(
        check=Stage.AWAIT_LIVE,
        delay_seconds=deps.poll_seconds,
        reason="publishing live",
        patch=patch,
    )


def complete(run: Run, deps: StageDeps) -> Outcome:
    """Finish the run; the check that sent it here has just read the final state."""
    return Finished()


# The stage table: which function runs each stage, and which stages the poller runs.
STAGES: dict[Stage, StageFn] = {
    Stage.RESOLVE: resolve,
    Stage.UPLOAD_PACKAGE: upload_package,
    Stage.AWAIT_PACKAGE: await_package,
    Stage.UPDATE_DRAFT: update_draft,
    Stage.SUBMIT_PREVIEW: submit_preview,
    Stage.AWAIT_PREVIEW: await_preview,
    Stage.PROMOTE: promote,
    Stage.AWAIT_LIVE: await_live,
    Stage.COMPLETE: complete,
}
POLLED_STAGES = frozenset({Stage.AWAIT_PACKAGE, Stage.AWAIT_PREVIEW, Stage.AWAIT_LIVE})
ORDER = (
    Stage.INTAKE,
    Stage.RESOLVE,
    Stage.UPLOAD_PACKAGE,
    Stage.AWAIT_PACKAGE,
    Stage.UPDATE_DRAFT,
    Stage.SUBMIT_PREVIEW,
    Stage.AWAIT_PREVIEW,
    Stage.PROMOTE,
    Stage.AWAIT_LIVE,
    Stage.COMPLETE,
)


def failure_reason(run: Run, sub: Submission, deps: StageDeps) -> str:
    """Why a submission failed, from the places Partner Center keeps it."""
    assert run.product_id
    parts = [f"submission {sub.id} failed ({sub.status})"]
    pending = sub.pending_update_info
    if pending is not None and pending.failure_reason:
        parts.append(pending.failure_reason)
    try:
        items = deps.pc.validations(run.product_id, sub.id)
        parts += [f"{i.severity or 'error'} {i.error_code}: {i.message}".strip() for i in items]
        steps = [
            f"{d.target_environment} step {s.name!r} {s.state}"
            for d in deps.pc.workflow_details(run.product_id, sub.id)
            for s in d.workflow_steps
            if s.state.lower() not in ("success", "notstarted", "inprogress")
        ]
        parts += steps
        if sub.substate.lower() == "failedincertification":
            parts += [
                f"certification report {r.status}: {r.file_uri}"
                for r in deps.pc.reports(run.product_id, sub.id)
            ]
    except PartnerCenterError as exc:
        parts.append(f"(details unavailable: {exc})")
    return "; ".join(parts)


def _latest(subs: list[Submission]) -> Submission | None:
    def order(s: Submission) -> tuple[int, str]:
        return (int(s.id) if s.id.isdigit() else -1, s.id)

    return max(subs, key=order) if subs else None


def _created_since_resolve(run: Run, deps: StageDeps) -> Submission | None:
    assert run.product_id is not None
    latest = _latest(deps.pc.submissions(run.product_id))
    if latest is not None and latest.id != (run.baseline_submission_id or ""):
        return latest
    return None


def _submission(run: Run, deps: StageDeps) -> Submission:
    assert run.product_id
    assert run.submission_id
    return deps.pc.get_submission(run.product_id, run.submission_id)


def _submission_request(product_id: str, deps: StageDeps, changed: set[str]) -> dict[str, Any]:
    """A submission to preview of the modules the run changed (modular publishing), or of
    every module's current draft instance when it changed none."""
    resources: list[dict[str, str]] = []
    per_plan: dict[str, list[dict[str, str]]] = {}
    for module in SUBMITTED_MODULES:
        for branch in deps.pc.branches(product_id, module):
            key = f"{module}@{branch.variant_id}" if branch.variant_id else module
            if changed and key not in changed:
                continue
            ref = {"type": module, "value": branch.current_draft_instance_id}
            if branch.variant_id:
                per_plan.setdefault(branch.variant_id, []).append(ref)
            else:
                resources.append(ref)
    return {
        "resourceType": "SubmissionCreationRequest",
        "targets": [{"type": "Scope", "value": "preview"}],
        "resources": resources,
        "variantResources": [{"variantID": v, "resources": r} for v, r in per_plan.items()],
        "publishOption": {"isManualPublish": True, "isAutoPromote": False},
    }
