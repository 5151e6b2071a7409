"""Sending a release and reading it back: the table of where its offers stand, and the
follow loop a CI job waits in until every offer reached preview or live (or one failed)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pcpub.ops import Storage, readable
from shared.ledger import RunStatus
from shared.messages import Stage
from shared.publish_request import RequestRejected
from shared.queues import PUBLISH_REQUESTS
from shared.release_request import ReleaseRequest, parse_request
from shared.releases import FAILED, LIVE, PREVIEW, UNCHANGED, Releases, state_of
from shared.request_ids import release_id_taken
from shared.wording import one_line


class NotFound(LookupError):
    """No run or release by that id."""


def send_release(storage: Storage, body: bytes) -> ReleaseRequest:
    """Validate locally (the sender hears of mistakes at once), then send the bytes."""
    request = parse_request(body)
    if not isinstance(request, ReleaseRequest):
        raise ValueError("this is a single publish request, not a release (pcpub enqueue)")
    taken = readable(lambda: Releases(storage.ledger).get(request.release_id))
    if taken is not None and (reason := release_id_taken(taken, request.fingerprint())):
        # Sent, it would be refused in an event, and `--wait` would follow the other release.
        raise RequestRejected(f"{reason} (it is {taken.status})", request.release_id)
    storage.sender.send(PUBLISH_REQUESTS, body.decode("utf-8"))
    return request


def release_view(storage: Storage, release_id: str) -> dict[str, Any]:
    release = Releases(storage.ledger).get(release_id)
    if release is None:
        rejected = storage.ledger.get(release_id)  # a refused release is recorded as a run
        if rejected is not None and rejected.status is RunStatus.REJECTED:
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
