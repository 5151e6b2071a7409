"""The stages meeting submissions in Partner Center that a run did not just create: its own
from an earlier delivery or run, another's in flight or stuck, one deleted or failed."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pcsim.app import Simulator
from pcsim.faults import FaultRule, Faults
from shared.messages import Stage
from shared.partnercenter.errors import MalformedAnswer
from shared.pipeline import stages
from shared.pipeline.outcomes import Advance, Checkpoint, Failed, Wait
from shared.pipeline.stages import StageDeps
from shared.pipeline.submission_state import SubmissionCancelled, withdraw
from tests.conftest import settled
from tests.unit.stage_runs import (
    await_preview,
    new_run,
    patched,
    posts,
    promote,
    resolve,
    submit_preview,
)


def test_an_empty_answer_after_the_create_is_reconciled_not_repeated(
    sim: Simulator, deps: StageDeps
) -> None:
    run = patched(new_run(), resolve(new_run(), deps))
    sim.faults = Faults(
        rules=[FaultRule(method="POST", path="/submissions$", after=True, raw_body="")]
    )
    checkpoint = stages.submit_preview(run, deps)
    assert isinstance(checkpoint, Checkpoint)
    recorded = replace(run, intents=checkpoint.patch.intents or {})  # as the ledger has it
    with pytest.raises(MalformedAnswer):  # transient: the runner retries the stage later
        stages.submit_preview(replace(recorded, fresh=checkpoint.fresh), deps)
    assert posts(sim, "/submissions") == 1
    outcome = submit_preview(recorded, deps)
    assert isinstance(outcome, Wait)
    assert outcome.patch.submission_id == sim.world.products[run.product_id or ""].submissions[0].id
    assert posts(sim, "/submissions") == 1


def test_a_submission_someone_else_started_is_never_adopted(
    sim: Simulator, deps: StageDeps
) -> None:
    run = patched(new_run(), resolve(new_run(), deps))
    # A person submits in Partner Center after resolve, before our create.
    theirs = stages.submit_preview(
        replace(new_run(), run_id="person", product_id=run.product_id), deps
    )
    assert isinstance(theirs, Checkpoint)
    person = settled(stages.submit_preview)(replace(run, run_id="person"), deps)
    assert isinstance(person, Wait)
    outcome = submit_preview(run, deps)
    assert isinstance(outcome, Wait)
    assert outcome.check is Stage.SUBMIT_PREVIEW  # waits; does not take it over
    assert outcome.patch.submission_id is None
    assert f"submission {person.patch.submission_id}" in outcome.reason
    assert "started elsewhere" in outcome.reason
    failing = submit_preview(run, replace(deps, foreign_submission="fail"))
    assert isinstance(failing, Failed)
    assert person.patch.submission_id and person.patch.submission_id in failing.reason
    # And nothing of theirs can be promoted by this run.
    stolen = promote(replace(run, submission_id=person.patch.submission_id), deps)
    assert isinstance(stolen, Failed)
    assert "not one this run created" in stolen.reason
    assert posts(sim, "/promote") == 0


def test_a_run_ended_early_deletes_its_own_submission_only(sim: Simulator, deps: StageDeps) -> None:
    run = patched(new_run(), resolve(new_run(), deps))
    run = patched(run, submit_preview(run, deps))
    product = sim.world.products[run.product_id or ""]
    assert withdraw(replace(run, intents={}), deps) == ""  # not proven ours: left alone
    assert len(product.submissions) == 1
    note = withdraw(run, deps)
    assert f"submission {run.submission_id}" in note and "was deleted" in note
    assert product.submissions == []


def test_a_submission_deleted_in_partner_center_cancels_the_run(
    sim: Simulator, deps: StageDeps
) -> None:
    run = patched(new_run(), resolve(new_run(), deps))
    run = patched(run, submit_preview(run, deps))
    sim.world.products[run.product_id or ""].submissions.clear()  # cancelled by a person
    with pytest.raises(SubmissionCancelled, match="cancelled in Partner Center"):
        await_preview(run, deps)


def test_our_own_failed_draft_is_deleted_so_it_blocks_nothing(
    sim: Simulator, deps: StageDeps
) -> None:
    product = next(p for p in sim.world.products.values() if p.offer_id == "contoso-backup")
    product.script.validation_failure = True
    run = patched(new_run(), resolve(new_run(), deps))
    run = patched(run, submit_preview(run, deps))
    outcome = await_preview(run, deps)
    assert isinstance(outcome, Failed)
    assert "ListingContactMissing" in outcome.reason
    assert "was deleted so it does not block the offer" in outcome.reason
    assert product.submissions == []
    product.script.validation_failure = False
    assert isinstance(resolve(new_run(), deps), Advance)


@pytest.mark.parametrize("policy", ["wait", "fail", "delete"])
def test_a_stuck_draft_started_elsewhere(sim: Simulator, deps: StageDeps, policy: str) -> None:
    product = next(p for p in sim.world.products.values() if p.offer_id == "contoso-backup")
    product.script.validation_failure = True
    person = settled(stages.submit_preview)(
        patched(replace(new_run(), run_id="person"), resolve(new_run(), deps)), deps
    )
    assert isinstance(person, Wait)
    product.script.validation_failure = False
    stuck_id = person.patch.submission_id or ""
    outcome = resolve(new_run(), replace(deps, foreign_submission=policy))  # type: ignore[arg-type]
    if policy == "delete":
        assert isinstance(outcome, Advance)
        assert [s.id for s in product.submissions] == []
        return
    assert isinstance(outcome, Wait if policy == "wait" else Failed)
    assert f"submission {stuck_id}" in outcome.reason
    assert "failed validation" in outcome.reason
    assert "PC_FOREIGN_SUBMISSION=delete" in outcome.reason


def test_a_submission_an_earlier_run_left_behind_is_known_as_ours(
    sim: Simulator, deps: StageDeps
) -> None:
    product = next(p for p in sim.world.products.values() if p.offer_id == "contoso-backup")
    first = patched(new_run(), resolve(new_run(), deps))
    first = patched(first, submit_preview(first, deps))  # then the run died, say
    left = first.submission_id or ""
    running = replace(deps, submission_owner=lambda pid, sid: ("r-1", False))
    waiting = resolve(replace(new_run(), run_id="r-2"), running)
    assert isinstance(waiting, Wait)
    assert f"submission {left} of pc-publisher run r-1" in waiting.reason
    assert "started elsewhere" not in waiting.reason
    over = replace(deps, submission_owner=lambda pid, sid: ("r-1", True))
    assert isinstance(resolve(replace(new_run(), run_id="r-2"), over), Advance)
    assert [s.id for s in product.submissions] == []  # ours, abandoned: deleted


def test_a_submission_that_moves_on_as_it_is_deleted_is_looked_at_again(
    sim: Simulator, deps: StageDeps
) -> None:
    """A submission in the way (an earlier run's, left behind) can start certifying between
    the read that found it and the DELETE, which Partner Center then refuses (409): the run
    looks again at its next check instead of failing on the race."""
    product = next(p for p in sim.world.products.values() if p.offer_id == "contoso-backup")
    first = patched(new_run(), resolve(new_run(), deps))
    first = patched(first, submit_preview(first, deps))
    left = first.submission_id or ""
    sim.faults = Faults(
        rules=[
            FaultRule(
                method="DELETE",
                path="/submissions/",
                status=409,
                body=f"Submission {left} is not in progress and cannot be cancelled.",
            )
        ]
    )
    over = replace(deps, submission_owner=lambda pid, sid: ("r-1", True))
    again = resolve(replace(new_run(), run_id="r-2"), over)
    assert isinstance(again, Wait) and again.check == Stage.RESOLVE
    assert f"submission {left}" in again.reason and "moved on" in again.reason
    assert [s.id for s in product.submissions] == [left]
    # Its next check finds it still in progress, and the delete goes through.
    assert isinstance(resolve(replace(new_run(), run_id="r-2"), over), Advance)
    assert product.submissions == []


def test_a_stuck_draft_that_moves_on_as_our_create_deletes_it_is_waited_for(
    sim: Simulator, deps: StageDeps
) -> None:
    """PC_FOREIGN_SUBMISSION=delete and a person's stuck draft refusing ours: when Partner
    Center refuses the delete too (the draft moved on), the run waits for it, naming it."""
    product = next(p for p in sim.world.products.values() if p.offer_id == "contoso-backup")
    run = patched(new_run(), resolve(new_run(), deps))
    product.script.validation_failure = True  # a person's draft, after resolve: it sticks
    person = settled(stages.submit_preview)(replace(run, run_id="person"), deps)
    assert isinstance(person, Wait)
    product.script.validation_failure = False
    sim.faults = Faults(rules=[FaultRule(method="DELETE", path="/submissions/", status=409)])
    deleting = replace(deps, foreign_submission="delete")
    outcome = submit_preview(run, deleting)
    assert isinstance(outcome, Wait) and outcome.check is Stage.SUBMIT_PREVIEW
    assert f"submission {person.patch.submission_id}" in outcome.reason
    assert [s.id for s in product.submissions] == [person.patch.submission_id]
    assert posts(sim, "/submissions") == 2  # the person's, and ours refused beside it
