"""What operators and CI jobs do with runs and releases: approve or reject a go-live,
cancel, pause and resume, re-drive a release's failed offers (sending and following a
release: pcpub.release_follow). Every change is a conditional write of the ledger rows the
pipeline reads (retried when a stage wrote first), then a nudge so waiting runs act on it at
once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Literal

from pcpub.ops import Storage
from pcpub.release_follow import NotFound
from shared.ledger import LedgerConflict, Run, RunStatus, now_utc, stamp
from shared.messages import Event, EventKind, Stage
from shared.pauses import Pause, Pauses
from shared.pipeline.release_intake import CARRIED, open_run, parked
from shared.publish_request import bounded
from shared.queues import EVENTS
from shared.release_request import member_run_id
from shared.releases import FAILED, Release, Releases, state_of

Kind = Literal["run", "release"] | None  # which an id names, when said


class Ambiguous(Exception):
    """The id names a release and, too, a single request's run still going: which one a
    command acts on must be said (a cancel meant for one run must not stop a release)."""

    def __init__(self, target_id: str, offers: int) -> None:
        super().__init__(target_id)
        self.target_id, self.offers = target_id, offers


def _members(
    storage: Storage, target_id: str, only: Kind = None
) -> tuple[Release | None, list[str]]:
    """The run ids a command on `target_id` acts on: a release's, or the run's by that id
    (`only` says which, when the id names both)."""
    release = None if only == "run" else Releases(storage.ledger).get(target_id)
    run = None if only == "release" else storage.ledger.get(target_id)
    if release is not None and run is not None and not run.status.terminal:
        raise Ambiguous(target_id, len(release.members))  # a refused release's record ended
    if release is not None:
        return release, [info["run"] for info in release.members.values()]
    if run is None:
        raise NotFound(target_id)
    return None, [target_id]


def _update(storage: Storage, run_id: str, change: Callable[[Run], Run | None]) -> Run | None:
    """Apply `change` with the run's ETag, again on a race; None when it declined."""
    for _ in range(10):
        run = storage.ledger.get(run_id)
        if run is None:
            return None
        changed = change(run)
        if changed is None:
            return None
        try:
            return storage.ledger.replace(changed)
        except LedgerConflict:
            continue
    raise LedgerConflict(f"run {run_id} kept changing")


def _nudged(run: Run) -> Run:
    """A waiting run acts at the poller's next tick rather than at its next check."""
    if run.status is RunStatus.WAITING:
        return run.evolve(next_check_at=stamp(now_utc()))
    return run


def decide(
    storage: Storage,
    target_id: str,
    by: str,
    *,
    approve: bool,
    reason: str = "",
    only: Kind = None,
    ahead: list[str] | None = None,
) -> list[str]:
    """Approve (or reject) the go-live of a run, or of every run of a release; who and when
    are recorded on each run. Returns the runs it recorded the decision on; `ahead` gets
    those not yet in preview (a release's later offers): the decision stands when they get
    there, so an approved one goes live without anyone having seen its preview."""
    _, run_ids = _members(storage, target_id, only)
    decision = {"state": "approved" if approve else "rejected", "by": by, "at": stamp(now_utc())}
    if reason:
        decision["reason"] = reason

    def change(run: Run) -> Run | None:
        if run.status.terminal or run.go_live != "approval" or run.approval:
            return None
        return (
            _nudged(run.evolve(approval=decision))
            if run.stage == Stage.AWAIT_GO_LIVE
            else run.evolve(approval=decision)
        )

    done = [r for rid in run_ids if (r := _update(storage, rid, change)) is not None]
    if ahead is not None:
        ahead.extend(r.run_id for r in done if r.stage != Stage.AWAIT_GO_LIVE)
    return [r.run_id for r in done]


def cancel(
    storage: Storage, target_id: str, by: str, reason: str = "", only: Kind = None
) -> list[str]:
    """Ask a run (or every run of a release) to stop at its next step."""
    release, run_ids = _members(storage, target_id, only)
    asked = {"by": by, "at": stamp(now_utc()), "reason": reason}

    def change(run: Run) -> Run | None:
        if run.status.terminal or run.cancel:
            return None
        return _nudged(run.evolve(cancel=asked))

    done = [r.run_id for rid in run_ids if (r := _update(storage, rid, change)) is not None]
    if release is not None:
        books = Releases(storage.ledger)
        for _ in range(10):
            current = books.get(release.release_id)
            if current is None:
                break
            try:
                books.replace(replace(current, status="cancelled"))
                break
            except LedgerConflict:
                continue
        _event(
            storage,
            EventKind.RELEASE_CANCELLED,
            release.release_id,
            f"cancelled by {by}" + (f": {reason}" if reason else ""),
        )
    return done


def pause(storage: Storage, offer: str | None, by: str, reason: str) -> Pause:
    return Pauses(storage.ledger).set(
        offer or "", by, reason or "no reason given", stamp(now_utc())
    )


def resume(storage: Storage, offer: str | None) -> bool:
    return Pauses(storage.ledger).clear(offer or "")


def pauses(storage: Storage) -> list[Pause]:
    return Pauses(storage.ledger).active(fresh=True)


def redrive_release(storage: Storage, release_id: str, by: str) -> list[str]:
    """Run a release's failed (and blocked) offers again, each as a new run at the gate; the
    offers that succeeded are left as they are."""
    books = Releases(storage.ledger)
    release = books.get(release_id)
    if release is None:
        raise NotFound(release_id)
    runs = books.runs(release)
    again = {n: r for n, r in runs.items() if r is not None and state_of(r) == FAILED}
    at = stamp(now_utc())
    members = dict(release.members)
    for name, old in again.items():
        attempt = int(members[name].get("attempt", 1)) + 1
        fresh = _fresh_attempt(old, member_run_id(release_id, name, attempt), at, by)
        while not open_run(storage.ledger, fresh) and not _ours(storage, fresh.run_id, old):
            attempt += 1  # the id names another request's run: the next one
            fresh = _fresh_attempt(old, member_run_id(release_id, name, attempt), at, by)
        members[name] = {**members[name], "run": fresh.run_id, "attempt": attempt}
    if again:
        kept = [a for a in release.announced if a == "ready"]
        books.replace(replace(release, members=members, status="running", announced=kept))
    return sorted(members[n]["run"] for n in again)


def _ours(storage: Storage, run_id: str, old: Run) -> bool:
    """The run found under a new attempt's id is that offer's (a redrive that stopped before
    it recorded the attempt), not another request's."""
    found = storage.ledger.get(run_id)
    return found is None or (
        found.release_id == old.release_id and found.release_name == old.release_name
    )


def _fresh_attempt(old: Run, run_id: str, at: str, by: str) -> Run:
    return parked(
        run_id,
        at,
        f"re-driven from {old.run_id}",
        **{name: getattr(old, name) for name in CARRIED},
        # A product named by the request, not the one resolve found for an offer id.
        product_id=old.product_id if old.offer_external_id is None else None,
        requested_by=by,
    )


def _event(storage: Storage, kind: EventKind, request_id: str, reason: str) -> None:
    event = Event(kind=kind, request_id=request_id, reason=bounded(reason), at=stamp(now_utc()))
    storage.sender.send(EVENTS, event.to_json())
