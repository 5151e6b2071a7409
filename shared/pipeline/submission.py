"""Submission and promotion: create the submission to preview, wait for certification,
promote, wait for the store, and say why when it failed."""

from __future__ import annotations

from typing import Any

from shared.ledger import Run
from shared.messages import Stage
from shared.partnercenter.errors import Conflict, PartnerCenterError
from shared.partnercenter.models import Submission
from shared.partnercenter.status import Phase, phase_of
from shared.pipeline.deps import StageDeps
from shared.pipeline.outcomes import Advance, Failed, Finished, Outcome, Patch, Wait

# Modules a submission publishes, offer level and per plan.
SUBMITTED_MODULES = ("Availability", "Listing", "Property", "Package")


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


def newest_submission(subs: list[Submission]) -> Submission | None:
    def order(s: Submission) -> tuple[int, str]:
        return (int(s.id) if s.id.isdigit() else -1, s.id)

    return max(subs, key=order) if subs else None


def _created_since_resolve(run: Run, deps: StageDeps) -> Submission | None:
    assert run.product_id is not None
    latest = newest_submission(deps.pc.submissions(run.product_id))
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
