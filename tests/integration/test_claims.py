"""A delivery that outlived its claim on a stage (a long wait for the budget, a slow answer)
never sends a non-idempotent call beside the delivery that took over: the fence reads the
run's claim right before each POST (real SDKs on Azurite and the simulator)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pcsim.admin import SimulatorClient
from shared.ledger import Run, RunStatus, now_utc, stamp
from shared.messages import Stage
from shared.partnercenter.call_context import fenced
from shared.partnercenter.errors import ClaimLost
from shared.pipeline.effects import CLAIM, Pipeline
from shared.pipeline.runner import _still_claimed


def test_a_post_is_not_sent_once_the_claim_was_taken_over(
    pipeline: Pipeline, admin: SimulatorClient
) -> None:
    product = admin.add_offer("claimed-over", ["basic"])["id"]
    mine = stamp(now_utc() - timedelta(seconds=pipeline.claim_seconds))  # it ran out
    run = Run(
        run_id="claims-1",
        status=RunStatus.RUNNING,
        stage=Stage.SUBMIT_PREVIEW,
        product_id=product,
        claimed_stage=Stage.SUBMIT_PREVIEW,
        claimed_at=mine,
        created_at=mine,
    )
    assert pipeline.ledger.create(run)
    CLAIM.set(mine)
    stored = pipeline.ledger.get("claims-1")
    assert stored is not None
    body = {"resourceType": "SubmissionCreationRequest", "targets": [], "resources": []}
    # Another delivery takes the stage over (this one's claim ran out meanwhile).
    pipeline.ledger.replace(stored.evolve(claimed_at=stamp(now_utc())))
    before = len(admin.requests())
    with fenced(lambda: _still_claimed(pipeline, "claims-1")), pytest.raises(ClaimLost):
        pipeline.stage_deps.pc.create_submission(product, body)
    sent = [r for r in admin.requests(before) if "/submissions" in r["path"]]
    assert sent == []
    # Reads are not fenced: they change nothing.
    with fenced(lambda: _still_claimed(pipeline, "claims-1")):
        assert pipeline.stage_deps.pc.submissions(product) == []
