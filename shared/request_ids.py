"""Whose a request id is: a single request's or a release's id, reused with another payload,
is refused, by the service in an event and by `pcpub` before it sends (so a sender that then
follows the id never reads another request's run as its own)."""

from __future__ import annotations

from shared.messages import Stage
from shared.releases import Release
from shared.runs import Run, RunStatus


def id_taken(existing: Run, fingerprint: str | None) -> str | None:
    """Why a request with `fingerprint` may not have the id `existing` holds (None: it is
    the same request again). A run refused at intake holds its id only once archived."""
    if refused_at_intake(existing):
        return (
            f"requestId {existing.run_id} names a request refused at intake, since archived; "
            "send a new requestId"
        )
    if existing.fingerprint and existing.fingerprint != fingerprint:
        return (
            f"requestId {existing.run_id} was already accepted with a different payload; "
            "send a new requestId for a new request"
        )
    return None


def refused_at_intake(run: Run) -> bool:
    """Refused before it started: no Partner Center call was made for it."""
    return run.status is RunStatus.REJECTED and run.stage == Stage.INTAKE


def release_id_taken(existing: Release, fingerprint: str) -> str | None:
    """Why a release with `fingerprint` may not have the id `existing` holds (None: it is
    the same release again)."""
    if existing.fingerprint == fingerprint:
        return None
    return (
        f"releaseId {existing.release_id} was already accepted with a different payload; "
        "send a new releaseId for a new release"
    )
