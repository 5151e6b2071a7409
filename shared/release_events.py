"""A release's own events, sent once each as its runs move: `release-ready` when every offer
is in preview (or unchanged), then `release-succeeded` or `release-failed` when every offer has
ended, naming per offer what happened and what a failure blocked.

Called after each ledger write of a release's run. "Once" is a conditional write of the
release row (its `announced` list) before the event is sent; a crash between the two loses
an event, never sends one twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from shared.ledger import LedgerConflict, Run
from shared.messages import Event, EventKind
from shared.publish_request import bounded
from shared.releases import STATE_COLUMNS, Release, Releases, summarize

log = logging.getLogger(__name__)
Send = Callable[[EventKind, str, str], None]  # kind, release id, reason
Seen = tuple[Release, dict[str, Run | None]]  # a release, and where each of its offers stands


def note(
    releases: Releases, run: Run, publish: Callable[[Event], None], now: Callable[[], str]
) -> Seen | None:
    """After a move of one of its runs: record the release's state and send what is due;
    what it read (None: nothing). Never fails the run's own write (the record catches up at
    the next move)."""

    def send(kind: EventKind, release_id: str, reason: str) -> None:
        event = Event(
            kind=kind,
            request_id=release_id,
            release_id=release_id,
            reason=bounded(reason),
            at=now(),
        )
        publish(event)

    try:
        return announce(releases, run, send)
    except Exception:
        log.exception("could not update release", extra={"releaseId": run.release_id})
        return None


def announce(releases: Releases, run: Run, send: Send) -> Seen | None:
    """Record and announce what the release's runs add up to; the release and where its
    offers stand, as last read (None: it is gone)."""
    for _ in range(5):
        release = releases.get(run.release_id)
        if release is None:
            return None
        states = releases.runs(release, columns=STATE_COLUMNS)
        summary = summarize(release, states)
        due: list[EventKind] = []
        if summary.state in ("ready", "succeeded") and "ready" not in release.announced:
            due.append(EventKind.RELEASE_READY)
        if summary.state in ("succeeded", "failed") and summary.state not in release.announced:
            due.append(
                EventKind.RELEASE_SUCCEEDED
                if summary.state == "succeeded"
                else EventKind.RELEASE_FAILED
            )
        status = summary.state if release.status != "cancelled" else release.status
        if not due and status == release.status:
            return release, states
        marks = [_mark(kind) for kind in due]
        try:
            releases.replace(
                replace(release, status=status, announced=[*release.announced, *marks])
            )
        except LedgerConflict:
            continue  # another run of the release moved at the same time: look again
        for kind in due:
            send(kind, release.release_id, summary.describe())
        return release, states
    log.warning("release %s kept changing; its events wait for the next move", run.release_id)
    return None


def _mark(kind: EventKind) -> str:
    return {
        EventKind.RELEASE_READY: "ready",
        EventKind.RELEASE_SUCCEEDED: "succeeded",
        EventKind.RELEASE_FAILED: "failed",
    }[kind]
