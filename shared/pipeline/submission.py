"""Submission and promotion: create the submission to preview, wait for certification,
promote, wait for the store, and say why when it failed."""

from __future__ import annotations

import json
from typing import Any

from shared.fanout import fan_out
from shared.ledger import Run
from shared.messages import Stage
from shared.offer_types import OfferType, of_run
from shared.partnercenter.errors import Conflict, PartnerCenterError
from shared.partnercenter.models import Submission
from shared.partnercenter.status import Phase, blocking, phase_of, stuck
from shared.pipeline import intents
from shared.pipeline.deps import StageDeps
from shared.pipeline.gates import gated
from shared.pipeline.outcomes import Advance, Failed, Finished, Outcome, Patch, Wait
from shared.pipeline.submission_state import (
    SUBMISSION,
    cleared,
    created_by_run,
    current_submission,
    failed_submission,
    failure_reason,
    newest_submission,
)


def submit_preview(run: Run, deps: StageDeps) -> Outcome:
    """Create the submission to preview, exactly once, and only ever adopt our own.

    The request body is recorded with the intent; an earlier delivery whose answer never
    arrived is reconciled with a submission that appeared after resolve and submits exactly
    that body. A 409 on a fresh attempt means the submission in flight is someone else's: wait
    for it or fail (PC_FOREIGN_SUBMISSION), naming it; it is never adopted or promoted.
    """
    assert run.product_id is not None
    pid = run.product_id
    match intents.state(run, SUBMISSION):
        case "done":
            return _certifying(run, deps, intents.made(run, SUBMISSION))
        case "none" | "refused":
            kind = of_run(run.offer_type)
            body = _submission_request(pid, deps, kind, set(run.changed_modules))
            return intents.intend(run, SUBMISSION, body=json.dumps(body))
        case "unknown":
            mine = _reconciled(run, deps)
            if mine is None:  # the earlier attempt made nothing: try again, on a new record
                return intents.intend(run, SUBMISSION, body=run.intents[SUBMISSION]["body"])
            return _certifying(run, deps, mine.id, mine.status)
    body = json.loads(run.intents[SUBMISSION]["body"])
    try:
        created = deps.pc.create_submission(pid, body)
    except Conflict as exc:
        return _foreign(run, deps, exc)
    return _certifying(run, deps, created.id, created.status)


def _certifying(run: Run, deps: StageDeps, submission_id: str, status: str | None = None) -> Wait:
    delay, aimed = deps.next_poll(run, Stage.AWAIT_PREVIEW)
    return Wait(
        check=Stage.AWAIT_PREVIEW,
        delay_seconds=delay,
        aimed=aimed,
        reason="certification for preview",
        patch=Patch(
            submission_id=submission_id,
            pc_status=status,
            intents=intents.record(run, SUBMISSION, intents.DONE, id=submission_id),
        ),
    )


def _reconciled(run: Run, deps: StageDeps) -> Submission | None:
    """Our submission from an attempt whose answer was lost: newer than the one seen at
    resolve, and submitting exactly the recorded body."""
    assert run.product_id is not None
    sent = json.loads(run.intents[SUBMISSION]["body"])
    wanted = Submission.model_validate({"id": "wanted", "state": "", "substate": "", **sent}).refs()
    floor = _number(run.baseline_submission_id or "")
    ours = [
        s
        for s in deps.pc.submissions(run.product_id)
        if _number(s.id) > floor and s.refs() == wanted
    ]
    return newest_submission(ours)


def _foreign(run: Run, deps: StageDeps, exc: Conflict) -> Outcome:
    """Partner Center refused our (definitely first) attempt: someone else's submission is
    in flight. Name it; wait for it or fail, as configured; never adopt it."""
    assert run.product_id is not None
    busy = [s for s in deps.pc.submissions(run.product_id) if blocking(s)]
    holder = newest_submission(busy)
    deleting = deps.foreign_submission == "delete"
    if holder is not None and deleting and stuck(holder) and cleared(deps, run.product_id, holder):
        return intents.intend(run, SUBMISSION, body=run.intents[SUBMISSION]["body"])
    # (a holder that moved on as it was being deleted is waited for, as any in flight)
    named = holding(holder) if holder else "another submission started elsewhere blocks it"
    reason = f"{named}; Partner Center refused ours: {exc}"
    patch = Patch(intents=intents.record(run, SUBMISSION, intents.REFUSED))
    return wait_or_fail(run, deps, Stage.SUBMIT_PREVIEW, reason, patch)


def wait_or_fail(
    run: Run, deps: StageDeps, stage: Stage, reason: str, patch: Patch
) -> Wait | Failed:
    """What PC_FOREIGN_SUBMISSION says to do about a submission started elsewhere: wait for
    it (the poller brings the run back to `stage`), or fail saying so."""
    if deps.foreign_submission == "fail":
        return Failed(reason=reason + "; not waiting (PC_FOREIGN_SUBMISSION=fail)", patch=patch)
    return Wait(
        check=stage,
        delay_seconds=deps.plain_poll(run, stage),
        reason=reason + "; waiting for it",
        patch=patch,
    )


def holding(holder: Submission) -> str:
    """Why a submission started elsewhere holds the offer, and what clears it."""
    if stuck(holder):
        return (
            f"submission {holder.id} started elsewhere failed validation ({holder.status}) "
            "and blocks the offer until it is deleted (in Partner Center, or set "
            "PC_FOREIGN_SUBMISSION=delete)"
        )
    return f"submission {holder.id} started elsewhere is in flight ({holder.status})"


def _number(submission_id: str) -> int:
    return int(submission_id) if submission_id.isdecimal() else -1


def await_preview(run: Run, deps: StageDeps) -> Outcome:
    """Poll until the preview is ready (Published/ReadyToPublish) or the submission failed."""
    sub = current_submission(run, deps)
    patch = Patch(pc_status=sub.status)
    phase = phase_of(sub)
    if phase is Phase.FAILED:
        return failed_submission(run, sub, deps, patch)
    if phase is Phase.RUNNING:
        delay, aimed = deps.next_poll(run)
        return Wait(
            check=Stage.AWAIT_PREVIEW,
            delay_seconds=delay,
            aimed=aimed,
            reason="certification for preview",
            patch=patch,
        )
    if run.target == "preview":
        return Finished(patch=patch, at=Stage.COMPLETE)
    if phase is Phase.PREVIEW_READY and gated(run):  # approval, a schedule, dependencies
        return Wait(check=Stage.AWAIT_GO_LIVE, delay_seconds=0, reason="in preview", patch=patch)
    if phase is Phase.PREVIEW_READY:
        return Advance(to=Stage.PROMOTE, patch=patch)
    delay, aimed = deps.next_poll(run, Stage.AWAIT_LIVE)
    return Wait(
        check=Stage.AWAIT_LIVE,
        delay_seconds=delay,
        aimed=aimed,
        reason="publishing live",
        patch=patch,
    )


def promote(run: Run, deps: StageDeps) -> Outcome:
    """Take our preview live, exactly once. The intent is recorded before the call; a
    delivery that finds an earlier, unanswered attempt reads the submission first, and any
    refusal is read again before the run is failed."""
    assert run.product_id
    assert run.submission_id
    if not created_by_run(run):
        return Failed(reason=f"submission {run.submission_id} is not one this run created")
    match intents.state(run, PROMOTE):
        case "done":
            return _going_live(run, deps)
        case "none" | "refused":
            return intents.intend(run, PROMOTE)
        case "unknown":
            return _after_promote(run, deps, None)
    try:
        deps.pc.promote(run.product_id, run.submission_id)
    except PartnerCenterError as exc:
        if exc.transient:
            raise  # the answer may be lost: the next delivery reads the submission first
        return _after_promote(run, deps, exc)
    return _going_live(run, deps)


PROMOTE = "promote"


def _going_live(run: Run, deps: StageDeps, status: str | None = None) -> Wait:
    delay, aimed = deps.next_poll(run, Stage.AWAIT_LIVE)
    return Wait(
        check=Stage.AWAIT_LIVE,
        delay_seconds=delay,
        aimed=aimed,
        reason="publishing live",
        patch=Patch(pc_status=status, intents=intents.record(run, PROMOTE, intents.DONE)),
    )


def _after_promote(run: Run, deps: StageDeps, refused: PartnerCenterError | None) -> Outcome:
    """Where the submission stands after a promote that was refused or never answered."""
    sub = current_submission(run, deps)
    phase = phase_of(sub)
    patch = Patch(pc_status=sub.status, intents=intents.record(run, PROMOTE, intents.REFUSED))
    if phase in (Phase.PUBLISHING, Phase.LIVE):
        return _going_live(run, deps, sub.status)  # the earlier promote did happen
    if phase is Phase.FAILED:
        return Failed(reason=failure_reason(run, sub, deps), patch=patch)
    if phase is Phase.RUNNING:  # not ready after all: back to waiting for the preview
        return Wait(
            check=Stage.AWAIT_PREVIEW,
            delay_seconds=deps.poll_seconds,
            reason="preview not ready",
            patch=patch,
        )
    if refused is None:  # never answered, and not promoted: promote again
        return intents.intend(run, PROMOTE)
    return Failed(reason=f"Partner Center refused the promote: {refused}", patch=patch)


def await_live(run: Run, deps: StageDeps) -> Outcome:
    """Poll until the submission is in the store (Published/InStore) or failed."""
    sub = current_submission(run, deps)
    patch = Patch(pc_status=sub.status)
    phase = phase_of(sub)
    if phase is Phase.FAILED:
        return failed_submission(run, sub, deps, patch)
    if phase is Phase.LIVE:
        return Finished(patch=patch, at=Stage.COMPLETE)
    delay, aimed = deps.next_poll(run)
    return Wait(
        check=Stage.AWAIT_LIVE,
        delay_seconds=delay,
        aimed=aimed,
        reason="publishing live",
        patch=patch,
    )


def complete(run: Run, deps: StageDeps) -> Outcome:
    """Finish a run handed here (the checks that read the final state now end the run
    themselves, at this stage: `Finished.at`)."""
    return Finished()


def _submission_request(
    product_id: str, deps: StageDeps, kind: OfferType, changed: set[str]
) -> dict[str, Any]:
    """A submission to preview of the modules the run changed (modular publishing), or of
    every module's current draft instance when it changed none; and what the offer type lists
    beside them: modules the live service requires (an Azure Application's
    ResellerConfiguration: without it validation fails with Resell-20007) and offer-level
    modules that go with a plan's (its Package branch, as Microsoft's CLIs submit it)."""
    resources: list[dict[str, str]] = []
    per_plan: dict[str, list[dict[str, str]]] = {}
    beside = kind.submitted_beside(changed)
    named = {key.split("@")[0] for key in changed} | beside
    every = dict.fromkeys((*kind.offer_modules, *kind.plan_modules, *kind.always_submitted))
    modules = [m for m in every if not changed or m in named]
    read = fan_out(lambda module: deps.pc.branches(product_id, module), modules)
    for module, branches in zip(modules, read, strict=True):
        for branch in branches:
            key = f"{module}@{branch.variant_id}" if branch.variant_id else module
            offer_level = branch.variant_id is None and module in beside
            if changed and key not in changed and not offer_level:
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
