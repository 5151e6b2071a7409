"""Our submission as Partner Center has it: which one is ours, the newest of several, and,
when it failed or a run ends early, why and what was done about it (deleted so it does not
block the offer, or left there, said so)."""

from __future__ import annotations

from shared.ledger import Run
from shared.partnercenter.errors import BadRequest, Conflict, NotFound, PartnerCenterError
from shared.partnercenter.models import Submission
from shared.partnercenter.status import Phase, phase_of, stuck
from shared.pipeline import intents
from shared.pipeline.deps import StageDeps
from shared.pipeline.outcomes import Failed, Patch

SUBMISSION = "submission"


class SubmissionCancelled(LookupError):
    """Our submission no longer exists: someone cancelled (deleted) it in Partner Center."""


def current_submission(run: Run, deps: StageDeps) -> Submission:
    """Our submission; gone (deleted in Partner Center) is a cancellation, said as one."""
    assert run.product_id
    assert run.submission_id
    try:
        return deps.pc.get_submission(run.product_id, run.submission_id)
    except NotFound:
        raise SubmissionCancelled(
            f"submission {run.submission_id} was cancelled in Partner Center "
            "(it no longer exists there)"
        ) from None


def newest_submission(subs: list[Submission]) -> Submission | None:
    """The most recent of `subs` (ids are numbers that grow; any other id sorts first)."""

    def order(s: Submission) -> tuple[int, str]:
        return (int(s.id) if s.id.isdecimal() else -1, s.id)

    return max(subs, key=order) if subs else None


def created_by_run(run: Run) -> bool:
    """Whether the run's submission is one it created (its intent says so)."""
    done = intents.state(run, SUBMISSION) == "done"
    return done and intents.made(run, SUBMISSION) == run.submission_id


def failed_submission(run: Run, sub: Submission, deps: StageDeps, patch: Patch) -> Failed:
    """The run's failure for a submission that failed or was cancelled, with every reason
    Partner Center gives; a failed one of ours that would block the offer is deleted."""
    if sub.substate.lower() == "cancelled":
        return Failed(
            reason=f"submission {sub.id} was cancelled in Partner Center ({sub.status})",
            cancelled=True,
            patch=patch,
        )
    reason = failure_reason(run, sub, deps)
    if stuck(sub):  # ours, and it would block the offer's next run
        reason += _delete(run, deps, sub)
    return Failed(reason=reason, patch=patch)


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


def withdraw(run: Run, deps: StageDeps) -> str:
    """A run that ends early deletes its own submission while it is still in progress, so
    the offer is not left blocked; says what it did (or why it could not), for the reason."""
    if not run.product_id or not run.submission_id or not created_by_run(run):
        return ""
    try:
        sub = deps.pc.get_submission(run.product_id, run.submission_id)
    except PartnerCenterError as exc:
        return f"; its submission {run.submission_id} is left in Partner Center ({exc})"
    return _delete(run, deps, sub) if phase_of(sub) is Phase.RUNNING else ""


def _delete(run: Run, deps: StageDeps, sub: Submission) -> str:
    """Delete our submission so it does not block the offer; the words for the reason."""
    assert run.product_id
    try:
        deps.pc.delete_submission(run.product_id, sub.id)
    except PartnerCenterError as exc:
        return f"; submission {sub.id} is left in Partner Center and blocks it ({exc})"
    return f"; submission {sub.id} ({sub.status}) was deleted so it does not block the offer"


def cleared(deps: StageDeps, product_id: str, sub: Submission) -> bool:
    """Delete a submission in the way: True when it is gone (deleted now, or already, by
    someone else), False when Partner Center refused because it is no longer in progress.
    It may have moved on between the read that found it and the delete (its certification
    began, or it was published): the caller looks again, rather than fail its run on a race
    (live-service-2026 §5: re-read on a 4xx before failing). Any other error is raised."""
    try:
        deps.pc.delete_submission(product_id, sub.id)
    except NotFound:
        return True
    except (Conflict, BadRequest):
        return False
    return True
