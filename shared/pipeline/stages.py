"""The stages of a publish run, each `(run, deps) -> Outcome`, and their order in one table.

    intake -> resolve -> submit_preview -> [await_preview] -> promote -> [await_live] -> complete
                                                          \\-> complete (target preview)

Bracketed stages are checks the timer poller runs; the others are queue-triggered. A stage only
talks to Partner Center through `deps.pc`; recording and hand-off are shared.pipeline.effects'.
Each stage is safe to run twice: it reads Partner Center's state before any call that changes it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from shared.ledger import Run
from shared.messages import Stage
from shared.partnercenter.errors import Conflict, NotFound, PartnerCenterError
from shared.partnercenter.models import (
    Branch,
    Product,
    Submission,
    ValidationItem,
    WorkflowDetail,
)
from shared.partnercenter.status import Phase, in_flight, phase_of
from shared.pipeline.outcomes import Advance, Failed, Finished, Outcome, Patch, Wait

# Modules a submission publishes, offer level and per plan.
SUBMITTED_MODULES = ("Availability", "Listing", "Property", "Package")


class PartnerCenterApi(Protocol):
    def get_product(self, product_id: str) -> Product: ...
    def find_products(self, offer_id: str) -> list[Product]: ...
    def branches(self, product_id: str, module: str) -> list[Branch]: ...
    def submissions(self, product_id: str) -> list[Submission]: ...
    def get_submission(self, product_id: str, submission_id: str) -> Submission: ...
    def create_submission(self, product_id: str, body: Mapping[str, Any]) -> Submission: ...
    def promote(self, product_id: str, submission_id: str) -> None: ...
    def validations(self, product_id: str, submission_id: str) -> list[ValidationItem]: ...
    def workflow_details(self, product_id: str, submission_id: str) -> list[WorkflowDetail]: ...


@dataclass(frozen=True, kw_only=True)
class StageDeps:
    pc: PartnerCenterApi
    poll_seconds: float = 60.0


StageFn = Callable[[Run, StageDeps], Outcome]


def resolve(run: Run, deps: StageDeps) -> Outcome:
    """Find the product and the latest submission; refuse while another one is in flight."""
    if run.product_id:
        try:
            product = deps.pc.get_product(run.product_id)
        except NotFound:
            return Failed(reason=f"unknown offer: no product {run.product_id}")
    else:
        assert run.offer_external_id
        found = deps.pc.find_products(run.offer_external_id)
        if not found:
            return Failed(
                reason=f"unknown offer: no product has offer id {run.offer_external_id!r}"
            )
        if len(found) > 1:
            return Failed(
                reason=f"offer id {run.offer_external_id!r} matches {len(found)} products"
            )
        product = found[0]
    latest = _latest(deps.pc.submissions(product.id))
    if latest is not None and in_flight(latest):
        return Failed(
            reason=f"submission {latest.id} is already in flight "
            f"({latest.status}); not starting another",
            patch=Patch(product_id=product.id),
        )
    return Advance(
        to=Stage.SUBMIT_PREVIEW,
        patch=Patch(product_id=product.id, baseline_submission_id=latest.id if latest else ""),
    )


def submit_preview(run: Run, deps: StageDeps) -> Outcome:
    """Create the submission to preview, unless an earlier delivery of this stage already did.

    A submission newer than the one seen at resolve is this run's: the run holds its offer's
    turn, so nothing else of ours submits meanwhile.
    """
    assert run.product_id is not None
    pid = run.product_id
    mine = _created_since_resolve(run, deps)
    if mine is None:
        body = _submission_request(pid, deps)
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
    """Take the preview live; a promote that an earlier delivery made is not repeated."""
    assert run.product_id
    assert run.submission_id
    sub = _submission(run, deps)
    phase = phase_of(sub)
    if phase is Phase.FAILED:
        return Failed(reason=failure_reason(run, sub, deps), patch=Patch(pc_status=sub.status))
    if phase is Phase.PREVIEW_READY:
        try:
            deps.pc.promote(run.product_id, run.submission_id)
        except PartnerCenterError as exc:
            if not exc.transient:
                raise
            sub = _submission(run, deps)  # ambiguous: did the promote happen?
            if phase_of(sub) is Phase.PREVIEW_READY:
                raise
        sub = _submission(run, deps)
    elif phase is Phase.RUNNING:
        return Wait(
            check=Stage.AWAIT_PREVIEW,
            delay_seconds=deps.poll_seconds,
            reason="preview not ready",
            patch=Patch(pc_status=sub.status),
        )
    return Wait(
        check=Stage.AWAIT_LIVE,
        delay_seconds=deps.poll_seconds,
        reason="publishing live",
        patch=Patch(pc_status=sub.status),
    )


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
    """Record the final Partner Center state of the submission."""
    sub = _submission(run, deps)
    return Finished(patch=Patch(pc_status=sub.status))


# The stage table: which function runs each stage, and which stages the poller runs.
STAGES: dict[Stage, StageFn] = {
    Stage.RESOLVE: resolve,
    Stage.SUBMIT_PREVIEW: submit_preview,
    Stage.AWAIT_PREVIEW: await_preview,
    Stage.PROMOTE: promote,
    Stage.AWAIT_LIVE: await_live,
    Stage.COMPLETE: complete,
}
POLLED_STAGES = frozenset({Stage.AWAIT_PREVIEW, Stage.AWAIT_LIVE})
ORDER = (
    Stage.INTAKE,
    Stage.RESOLVE,
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


def _submission_request(product_id: str, deps: StageDeps) -> dict[str, Any]:
    """A submission to preview of every module's current draft instance."""
    resources: list[dict[str, str]] = []
    per_plan: dict[str, list[dict[str, str]]] = {}
    for module in SUBMITTED_MODULES:
        for branch in deps.pc.branches(product_id, module):
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
