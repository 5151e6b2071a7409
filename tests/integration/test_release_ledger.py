"""Releases in the ledger with the real SDKs on Azurite: intake is idempotent (a crashed
delivery's missing runs are opened by the redelivery), a conflicting payload is refused, and
admission never lets more than maxInFlight of a release past the gate, however many pollers
race for it."""

from __future__ import annotations

import contextlib
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError

from shared.ledger import Run, RunStatus
from shared.messages import Stage
from shared.pipeline.effects import Pipeline
from shared.pipeline.gates import await_release
from shared.pipeline.intake import accept
from shared.pipeline.outcomes import Failed, Wait
from shared.releases import Release, Releases
from tests.integration.test_pipeline_storage import events


def body(release_id: str, count: int, **extra: Any) -> str:
    offers = [{"name": f"o{i}", "offer": {"externalId": f"offer-{i:03d}"}} for i in range(count)]
    return json.dumps(
        {
            "schemaVersion": 1,
            "releaseId": release_id,
            "target": "preview",
            "offers": offers,
            **extra,
        }
    )


def test_a_release_delivered_twice_is_one_release_with_every_run(pipeline: Pipeline) -> None:
    release_id = f"rel-{uuid.uuid4().hex[:8]}"
    first = accept(pipeline, body(release_id, 3), "m1")
    assert isinstance(first, Release)
    pipeline.ledger.table().delete_entity("run", f"{release_id}.o1")  # as if it crashed midway
    again = accept(pipeline, body(release_id, 3), "m2")
    assert isinstance(again, Release) and again.fingerprint == first.fingerprint
    runs = [pipeline.ledger.get(f"{release_id}.o{i}") for i in range(3)]
    assert all(r is not None and r.stage == Stage.AWAIT_RELEASE for r in runs)
    assert all(r is not None and r.status is RunStatus.WAITING for r in runs)


def test_a_release_id_reused_with_another_payload_is_refused(pipeline: Pipeline) -> None:
    release_id = f"rel-{uuid.uuid4().hex[:8]}"
    accept(pipeline, body(release_id, 2), "m1")
    refused = accept(pipeline, body(release_id, 3), "m2")
    assert refused is None
    assert pipeline.ledger.get(f"{release_id}.o2") is None  # the first release stands
    said = events(pipeline, release_id)
    assert [e["kind"] for e in said] == ["release-accepted", "refused"]
    assert "different payload" in said[-1]["reason"]


def test_admission_never_exceeds_max_in_flight(pipeline: Pipeline) -> None:
    release_id = f"rel-{uuid.uuid4().hex[:8]}"
    accept(pipeline, body(release_id, 8, maxInFlight=3), "m1")
    books = Releases(pipeline.ledger)
    ids = [f"{release_id}.o{i}" for i in range(8)]
    # What admitted runs look like to the count: on their way (not at the gate any more).
    for run_id in ids:
        run = pipeline.ledger.get(run_id)
        assert run is not None
        pipeline.ledger.replace(replace(run, stage=Stage.RESOLVE, status=RunStatus.RUNNING))
    with ThreadPoolExecutor(max_workers=8) as pool:
        admitted = list(pool.map(lambda rid: books.admit(release_id, rid), ids))
    assert sum(admitted) == 3
    release = books.get(release_id)
    assert release is not None and len(release.admitted) == 3


def test_a_release_of_many_offers_reads_its_runs_in_one_query(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Publishers with 50+ apps release them as one: 120 offers are accepted, and the gate's
    read of a release's runs is one query, not a read per offer on every check."""
    release_id = f"rel-{uuid.uuid4().hex[:8]}"
    release = accept(pipeline, body(release_id, 120, maxInFlight=100), "m1")
    try:
        _bulk_read(pipeline, monkeypatch, release)
    finally:  # 120 runs due at once would crowd this worker's other tests out of a tick
        for name in release.members if isinstance(release, Release) else ():
            pipeline.ledger.index.drop(f"{release_id}.{name}")
            with contextlib.suppress(ResourceNotFoundError):
                pipeline.ledger.table().delete_entity("run", f"{release_id}.{name}")


def _bulk_read(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, release: Any) -> None:
    release_id = release.release_id
    assert isinstance(release, Release) and len(release.members) == 120
    pipeline.ledger.table().delete_entity("run", f"{release_id}.o7")  # gone from the table
    books = Releases(pipeline.ledger)
    read_one_by_one: list[str] = []
    get = pipeline.ledger.get

    def counted(run_id: str) -> Run | None:
        read_one_by_one.append(run_id)
        return get(run_id)

    monkeypatch.setattr(pipeline.ledger, "get", counted)
    runs = books.runs(release)
    assert len(runs) == 120 and runs["o7"] is None
    assert all(
        r is not None and r.status is RunStatus.WAITING for n, r in runs.items() if n != "o7"
    )
    assert read_one_by_one == [f"{release_id}.o7"]  # only the one the query did not find
    assert set(books.runs(release, ["o1", "o2"])) == {"o1", "o2"}
    first = runs["o1"]
    assert first is not None
    # What was read can be written back (its index fields are known, as after a get).
    assert pipeline.ledger.replace(first.evolve(reason="read in bulk")).reason == "read in bulk"


def test_admission_reads_where_many_admitted_runs_stand(pipeline: Pipeline) -> None:
    """Past the few read one by one, the admitted runs' states come from one query of their
    state columns: the ones done make room, the ones in flight do not."""
    release_id = f"rel-{uuid.uuid4().hex[:8]}"
    accept(pipeline, body(release_id, 9, maxInFlight=6), "m1")
    books = Releases(pipeline.ledger)
    ids = [f"{release_id}.o{i}" for i in range(9)]
    for run_id, status in zip(
        ids[:6], [RunStatus.RUNNING] * 5 + [RunStatus.SUCCEEDED], strict=True
    ):
        run = pipeline.ledger.get(run_id)
        assert run is not None
        pipeline.ledger.replace(replace(run, stage=Stage.RESOLVE, status=status))
    release = books.get(release_id)
    assert release is not None
    books.replace(replace(release, admitted=ids[:6]))
    assert books.admit(release_id, ids[6])  # five in flight, one done: room for one
    sixth = pipeline.ledger.get(ids[6])
    assert sixth is not None  # past the gate, it is on its way
    pipeline.ledger.replace(replace(sixth, stage=Stage.RESOLVE, status=RunStatus.RUNNING))
    assert not books.admit(release_id, ids[7])  # six in flight now


def test_a_redriven_run_waits_until_its_release_names_it(pipeline: Pipeline) -> None:
    """`pcpub release redrive` opens the new runs, then names them in the release: a gate
    check between the two must not read the failed attempt before as this run's blocker."""
    release_id = f"rel-{uuid.uuid4().hex[:8]}"
    offers = [
        {"name": "lib", "offer": {"externalId": "offer-lib"}},
        {"name": "app", "offer": {"externalId": "offer-app"}, "dependsOn": ["lib"]},
    ]
    request = {"schemaVersion": 1, "releaseId": release_id, "target": "preview"}
    accept(pipeline, json.dumps({**request, "offers": offers}), "m1")
    for name in ("lib", "app"):
        run = pipeline.ledger.get(f"{release_id}.{name}")
        assert run is not None
        pipeline.ledger.replace(replace(run, status=RunStatus.FAILED))
    app = pipeline.ledger.get(f"{release_id}.app")
    assert app is not None
    again = replace(app, run_id=f"{release_id}.app.r2", status=RunStatus.WAITING)
    waiting = await_release(again, pipeline.stage_deps)  # the release still names .app
    assert isinstance(waiting, Wait) and "re-driven" in waiting.reason
    books = Releases(pipeline.ledger)
    release = books.get(release_id)
    assert release is not None
    members = {
        **release.members,
        "app": {**release.members["app"], "run": again.run_id, "attempt": 2},
    }
    books.replace(replace(release, members=members))
    blocked = await_release(again, pipeline.stage_deps)  # named now: lib's failure is its
    assert isinstance(blocked, Failed) and blocked.reason.startswith("blocked: lib")
    old = await_release(replace(app, status=RunStatus.WAITING), pipeline.stage_deps)
    assert isinstance(old, Failed) and old.reason.startswith("superseded:")
