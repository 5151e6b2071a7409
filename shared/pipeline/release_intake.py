"""Intake of a release: validate every offer's request as a single one would be, record the
release, and open one run per offer, parked at the `await_release` gate (the poller lets each
through when what it depends on is ready and the release has room in flight).

Idempotent like single requests: the same releaseId with the same payload re-opens any run a
crashed delivery did not create and is reported as a duplicate; with another payload it is
refused and the first release stands.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from shared.fanout import fan_out
from shared.ledger import Ledger, LedgerConflict, Run, RunStatus, StageRecord
from shared.messages import Event, EventKind, Stage
from shared.observability.tracing import new_run_trace
from shared.pipeline.effects import Pipeline
from shared.pipeline.events import publish, refused
from shared.publish_request import PublishRequest, RequestRejected, bounded, check_policy
from shared.release_request import ReleaseOffer, ReleaseRequest
from shared.releases import Release, Releases
from shared.request_ids import release_id_taken
from shared.wording import listed

log = logging.getLogger(__name__)
OPENING = 8  # a release's runs opened at once


def accept_release(pipeline: Pipeline, request: ReleaseRequest, at: str) -> Release | None:
    """Record the release and open its runs; None when it was refused (and said so)."""
    assert pipeline.releases is not None, "releases need the ledger's release rows"
    releases: Releases = pipeline.releases
    members = [(entry, request.member(entry)) for entry in request.offers]
    for entry, single in members:
        try:
            check_policy(single, url_hosts=pipeline.package_url_hosts)
        except RequestRejected as exc:  # the release is refused as a whole, by its own id
            raise RequestRejected(f"offer {entry.name}: {exc.reason}", request.release_id) from None
    if taken := releases.taken(request.release_id, [s.request_id for _, s in members]):
        # Its offers' runs would be another request's: refused whole, as a bad offer is.
        raise RequestRejected(
            f"run ids {listed(taken, 3)} are taken by other requests; "
            "send the release under another releaseId",
            request.release_id,
        )
    release = Release(
        release_id=request.release_id,
        target=request.target,
        go_live=request.go_live,
        fingerprint=request.fingerprint(),
        max_in_flight=request.max_in_flight,
        members={
            entry.name: {
                "run": single.request_id,
                "dependsOn": list(entry.depends_on),
                "needs": entry.needs,
                "attempt": 1,
            }
            for entry, single in members
        },
        requested_by=request.requested_by,
        labels=dict(request.labels),
        created_at=at,
        updated_at=at,
    )
    if not releases.create(release):
        existing = releases.get(release.release_id)
        assert existing is not None
        reason = release_id_taken(existing, release.fingerprint)
        if reason is not None:
            refused(pipeline, release.release_id, reason, release_id=release.release_id)
            return None
        release = existing
        kind = EventKind.DUPLICATE
    else:
        kind = EventKind.RELEASE_ACCEPTED
    # A crashed delivery may have opened only some of them; a re-driven offer has a newer
    # run. Opened a few at once: one after another, 250 offers took half a minute.
    runs = [
        member_run(single, request.release_id, entry, at, release.members[entry.name]["run"])
        for entry, single in members
    ]
    fan_out(partial(open_run, pipeline.ledger), runs, workers=OPENING)
    log.info(
        "release %s accepted (%d offers)",
        release.release_id,
        len(members),
        extra={"action": "release_accepted", "releaseId": release.release_id},
    )
    _announce(pipeline, kind, release.release_id, f"{len(members)} offers", at)
    return release


def open_run(ledger: Ledger, run: Run, over: Run | None = None) -> bool:
    """Create the run's record with a trace of its own; False when it exists already (the
    trace started for it is then dropped unseen). With `over`, the record read under the
    run's id is replaced instead, on that read's ETag: False when it changed since."""
    attributes = {"offer": run.offer or None, "releaseId": run.release_id or None}
    with new_run_trace(run.run_id, **attributes) as started:
        traced = run.evolve(trace=started.traceparent)
        if over is None:
            opened = ledger.create(traced)
        else:
            try:
                ledger.replace(traced.evolve(etag=over.etag, indexed=over.indexed))
                opened = True
            except LedgerConflict:
                opened = False
        if opened:
            started.keep()
        return opened


def member_run(
    single: PublishRequest, release_id: str, entry: ReleaseOffer, at: str, run_id: str
) -> Run:
    """A release's offer as a run, parked at the gate (due at once)."""
    return parked(
        run_id,
        at,
        "waiting for its turn in the release",
        **requested(single, at),
        release_id=release_id,
        release_name=entry.name,
        depends_on=list(entry.depends_on),
        needs=entry.needs,
    )


# What a release's run carries into another attempt (pcpub release redrive).
CARRIED = (
    "target",
    "offer",
    "offer_external_id",
    "labels",
    "changes",
    "fingerprint",
    "go_live",
    "not_before",
    "only_changed",
    "release_id",
    "release_name",
    "depends_on",
    "needs",
)


def parked(run_id: str, at: str, reason: str, **fields: Any) -> Run:
    """A run waiting at the release gate, due at once."""
    return Run(
        **{**fields, "created_at": at, "updated_at": at},
        run_id=run_id,
        status=RunStatus.WAITING,
        stage=Stage.AWAIT_RELEASE,
        next_check_at=at,
        reason=reason,
        timeline=[
            StageRecord(stage=Stage.INTAKE, started=at, ended=at, result="ok"),
            StageRecord(stage=Stage.AWAIT_RELEASE, started=at),
        ],
    )


def _announce(pipeline: Pipeline, kind: EventKind, release_id: str, reason: str, at: str) -> None:
    event = Event(
        kind=kind, request_id=release_id, release_id=release_id, reason=bounded(reason), at=at
    )
    publish(pipeline, event)


def requested(request: PublishRequest, at: str) -> dict[str, Any]:
    """What a run takes from the request that opened it."""
    return {
        "target": request.target,
        "offer": request.offer.key,
        "product_id": request.offer.product_id,
        "offer_external_id": request.offer.external_id,
        "requested_by": request.requested_by,
        "labels": dict(request.labels),
        "changes": request.changes.model_dump(by_alias=True, exclude_none=True)
        if request.changes
        else {},
        "fingerprint": request.fingerprint(),
        "go_live": request.go_live or "auto",
        "not_before": request.not_before,
        "only_changed": bool(request.only_changed),
        "export_from": request.export_from,
        "created_at": at,
        "updated_at": at,
    }
