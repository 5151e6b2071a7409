"""A release's run ids are its own: a single request sent earlier under one of them (say
`bc-2026-12.base`) is never taken for the release's offer, at intake or at a redrive."""

from __future__ import annotations

import json
import uuid

from pcpub.controls import redrive_release
from pcpub.ops import Storage
from shared.ledger import Run, RunStatus
from shared.messages import Stage
from shared.pipeline.effects import Pipeline
from shared.pipeline.intake import accept
from shared.releases import Releases
from shared.settings import Settings


def foreign(pipeline: Pipeline, run_id: str) -> None:
    """A single request's run, of another offer, under `run_id`."""
    run = Run(run_id=run_id, status=RunStatus.SUCCEEDED, stage=Stage.COMPLETE, created_at="x")
    assert pipeline.ledger.create(run.evolve(offer="offer:someone-else"))


def release(release_id: str, *names: str) -> str:
    offers = [{"name": n, "offer": {"externalId": f"ids-{n}"}} for n in names]
    return json.dumps(
        {"schemaVersion": 1, "releaseId": release_id, "target": "preview", "offers": offers}
    )


def test_a_release_whose_run_ids_are_taken_is_refused_whole(pipeline: Pipeline) -> None:
    release_id = f"ids-{uuid.uuid4().hex[:8]}"
    foreign(pipeline, f"{release_id}.base")
    accept(pipeline, release(release_id, "base", "app"), f"m-{release_id}")
    assert Releases(pipeline.ledger).get(release_id) is None
    refused = pipeline.ledger.get(release_id)
    assert refused is not None and refused.status is RunStatus.REJECTED
    assert f"run ids {release_id}.base are taken by other requests" in (refused.reason or "")
    assert pipeline.ledger.get(f"{release_id}.app") is None  # nothing of it was opened
    stranger = pipeline.ledger.get(f"{release_id}.base")
    assert stranger is not None and stranger.status is RunStatus.SUCCEEDED  # untouched


def test_a_redrive_passes_over_an_attempt_id_another_request_took(
    pipeline: Pipeline, settings: Settings
) -> None:
    release_id = f"ids-{uuid.uuid4().hex[:8]}"
    accept(pipeline, release(release_id, "base"), f"m-{release_id}")
    first = pipeline.ledger.get(f"{release_id}.base")
    assert first is not None
    pipeline.ledger.replace(first.evolve(status=RunStatus.FAILED, reason="it failed"))
    foreign(pipeline, f"{release_id}.base.r2")
    assert settings.storage_connection is not None
    again = redrive_release(Storage(settings.storage_connection), release_id, "ana")
    assert again == [f"{release_id}.base.r3"]
    fresh = pipeline.ledger.get(f"{release_id}.base.r3")
    assert fresh is not None and fresh.release_id == release_id and fresh.release_name == "base"
    books = Releases(pipeline.ledger)
    recorded = books.get(release_id)
    assert recorded is not None and recorded.members["base"]["run"] == f"{release_id}.base.r3"
