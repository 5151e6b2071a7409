"""What operators and CI jobs do with releases and go-lives: send a release and follow it,
read it as a table, approve or reject a go-live, cancel, pause and resume, re-drive a
release's failed offers. Every change is a conditional write of the ledger rows the pipeline
reads (retried when a stage wrote first), then a nudge so waiting runs act on it at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from pcpub.ops import Storage
from shared.ledger import LedgerConflict, Run, RunStatus, now_utc, stamp
from shared.messages import Event, EventKind, Stage
from shared.pauses import Pause, Pauses
from shared.pipeline.release_intake import CARRIED, open_run, parked
from shared.publish_request import bounded
from shared.queues import EVENTS, PUBLISH_REQUESTS
from shared.release_request import ReleaseRequest, member_run_id, parse_request
from shared.releases import FAILED, LIVE, PREVIEW, UNCHANGED, Release, Releases, state_of
from shared.wording import one_line


class NotFound(LookupError):
    """No run or release by that id."""


def send_release(storage: Storage, body: bytes) -> ReleaseRequest:
    """Validate locally (the sender hears of mistakes at once), then send the bytes."""
    request = parse_request(body)
    if not isinstance(request, ReleaseRequest):
        raise ValueError("this is a single publish request, not a release (pcpub enqueue)")
    storage.sender.send(PUBLISH_REQUESTS, body.decode("utf-8"))
    return request


def release_view(storage: Storage, release_id: str) -> dict[str, Any]:
    release = Releases(storage.ledger).get(release_id)
    if release is None:
        rejected = storage.ledger.get(release_id)  # a refused release is recorded as a run
        if rejected is not None:
            return {
                "releaseId": release_id,
                "status": str(rejected.status),
                "offers": [],
                "reason": rejected.reason,
            }
        raise NotFound(release_id)
    runs = Releases(storage.ledger).runs(release)
    offers = []
    for name, info in release.members.items():
        run = runs.get(name)
        offers.append(
            {
                "name": name,
                "run": info["run"],
                "dependsOn": info.get("dependsOn", []),
                "state": state_of(run),
                "status": str(run.status) if run else "missing",
                "stage": run.stage if run else "",
                "submission": run.submission_id if run else None,
                "reason": run.reason if run else None,
                "approval": run.approval if run else {},
            }
        )
    return {
        "releaseId": release.release_id,
        "status": release.status,
        "target": release.target,
        "goLive": release.go_live,
        "maxInFlight": release.max_in_flight,
        "offers": offers,
    }


def format_release(view: dict[str, Any]) -> str:
    lines = [
        f"release {view['releaseId']}: {view['status']}"
        + (f" (target {view['target']}, goLive {view['goLive']})" if "target" in view else "")
    ]
    if view.get("reason"):
        lines.append(f"  reason: {view['reason']}")
    if view["offers"]:
        lines.append(
            f"  {'offer':<20} {'state':<11} {'status':<10} {'stage':<14} {'submission':<20} reason"
        )
    for o in view["offers"]:
        lines.append(
            f"  {o['name']:<20} {o['state']:<11} {o['status']:<10} {o['stage']:<14} "
            f"{o['submission'] or '-':<20} {(o['reason'] or '')[:160]}"
        )
    return "\n".join(map(one_line, lines))  # reasons from the service: one line each


def follow(
    storage: Storage,
    release_id: str,
    until: str,
    *,
    timeout: float | None = None,
    every: float = 2.0,
    out: Callable[[str], None] = print,
) -> int:
    """Follow a release until every offer reached `until` (preview or live): 0; as soon as an
    offer failed: 1 (saying what it blocks); 2 on timeout."""
    goal = {PREVIEW, LIVE, UNCHANGED} if until == "preview" else {LIVE, UNCHANGED}
    seen: dict[str, str] = {}
    view: dict[str, Any] | None = None
    started = time.monotonic()
    while timeout is None or time.monotonic() - started < timeout:
        try:
            view = release_view(storage, release_id)
        except NotFound:
            time.sleep(every)  # not taken in yet
            continue
        if view["status"] == "rejected":
            out(one_line(f"release {release_id} was rejected: {view.get('reason')}"))
            return 1
        for offer in view["offers"]:
            now = f"{offer['state']} ({offer['stage']})"
            if seen.get(offer["name"]) != now:
                seen[offer["name"]] = now
                # Held before go-live, it says by what (an approval to give, a time to come).
                held = offer["stage"] == Stage.AWAIT_GO_LIVE
                why = f": {one_line(offer['reason'] or '')}" if held else ""
                out(f"  {time.monotonic() - started:7.1f}s  {offer['name']:<20} {now}{why}")
        failed = [o for o in view["offers"] if o["state"] == FAILED]
        if failed:
            out(format_release(view))
            return 1
        if view["offers"] and all(o["state"] in goal for o in view["offers"]):
            out(format_release(view))
            return 0
        time.sleep(every)
    if view is not None:
        out(format_release(view))  # where each offer stands, and why
    out(f"release {release_id} did not reach {until} within {timeout:.0f}s")
    return 2


def _members(storage: Storage, target_id: str) -> tuple[Release | None, list[str]]:
    """The run ids a command on `target_id` (a release or a run) acts on."""
    release = Releases(storage.ledger).get(target_id)
    if release is not None:
        return release, [info["run"] for info in release.members.values()]
    if storage.ledger.get(target_id) is None:
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
    storage: Storage, target_id: str, by: str, *, approve: bool, reason: str = ""
) -> list[str]:
    """Approve (or reject) the go-live of a run, or of every run of a release; who and when
    are recorded on each run. Returns the runs it recorded the decision on."""
    _, run_ids = _members(storage, target_id)
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

    return [r.run_id for rid in run_ids if (r := _update(storage, rid, change)) is not None]


def cancel(storage: Storage, target_id: str, by: str, reason: str = "") -> list[str]:
    """Ask a run (or every run of a release) to stop at its next step."""
    release, run_ids = _members(storage, target_id)
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
