"""What a submission's state means for a publish run (the rule Microsoft's own uploader uses)."""

from __future__ import annotations

from enum import StrEnum

from shared.partnercenter.models import Submission


class Phase(StrEnum):
    RUNNING = "running"  # still on its way to preview
    PREVIEW_READY = "preview-ready"  # Published/ReadyToPublish: awaiting promote
    PUBLISHING = "publishing"  # promoted, on its way live
    LIVE = "live"  # Published/InStore
    FAILED = "failed"


_FAILED_SUBSTATES = {"failed", "failedincertification", "cancelled"}


def phase_of(submission: Submission) -> Phase:
    """Classify a submission; failed wins over everything else."""
    state, sub = submission.state.lower(), submission.substate.lower()
    pending = submission.pending_update_info
    if pending is not None and pending.status.lower() == "failed":
        return Phase.FAILED
    if sub in _FAILED_SUBSTATES:
        return Phase.FAILED
    if state == "published":
        if sub == "readytopublish":
            return Phase.PREVIEW_READY
        if sub == "instore":
            return Phase.LIVE
        return Phase.PUBLISHING
    return Phase.RUNNING


def in_flight(submission: Submission) -> bool:
    """Whether Partner Center would refuse a new submission while this one exists."""
    return phase_of(submission) in (Phase.RUNNING, Phase.PUBLISHING)


def stuck(submission: Submission) -> bool:
    """A submission that failed automated validation and stays InProgress (InDraft with a
    failed pendingUpdateInfo, or Failed): it blocks new submissions until it is deleted."""
    return (
        submission.state.lower() == "inprogress"
        and submission.substate.lower() in ("indraft", "failed")
        and phase_of(submission) is Phase.FAILED
    )


def blocking(submission: Submission) -> bool:
    """Whether Partner Center refuses a new submission while this one exists."""
    return in_flight(submission) or stuck(submission)
