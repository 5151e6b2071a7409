"""Waiting for the offer's turn: one run at a time changes an offer (shared.offer_locks), and
a run that finds the turn held waits at the `await_turn` check, which asks only the ledger.

Waiting at resolve instead cost a read of the product at Partner Center at every check, a
base interval apart, for as long as the holder held the turn: days of certification, and one
call a minute per run queued behind it from the tenant's budget (a sender that queued a
hundred requests for one offer spent a hundred calls a minute on nothing). Here the checks
thin out as the wait grows (a tenth of the time waited, up to the longest interval) and read
no Partner Center; a run that gives the turn back wakes the one that has waited longest.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from shared.ledger import Run, RunStatus
from shared.messages import Stage
from shared.pipeline.deps import StageDeps
from shared.pipeline.outcomes import Advance, Outcome, Wait
from shared.pipeline.sends import wake

if TYPE_CHECKING:
    from shared.pipeline.effects import Pipeline

log = logging.getLogger(__name__)
LINE = 32  # runs read to find the one that has waited longest for a turn given back


def held_by(holder: str) -> str:
    return f"waiting for run {holder}, which is publishing this offer"


def await_turn(run: Run, deps: StageDeps) -> Outcome:
    """Take the offer's turn, or wait for it again: back to resolve, which reads Partner
    Center anew, once the turn is this run's."""
    assert run.product_id, "a run waits for its offer's turn once it knows the product"
    lock = deps.offer_lock
    holder = lock(run.product_id, run.run_id) if lock is not None else None
    if holder is None:
        return Advance(to=Stage.RESOLVE)
    return Wait(check=Stage.AWAIT_TURN, delay_seconds=deps.plain_poll(run), reason=held_by(holder))


def turn_given_back(pipeline: Pipeline, product_id: str) -> str | None:
    """Wake the run that has waited longest for the turn `product_id`'s run gave back: runs
    of one offer go in the order they came (a later request's changes land last), as far as
    the order of their wakes decides it; the others' own checks come minutes apart. The run
    woken, if any. Best effort: a run not woken takes the turn at its own next check."""
    try:
        rows = pipeline.ledger.index.query(
            "status eq @s and stage eq @st and product_id eq @p",
            {"s": str(RunStatus.WAITING), "st": str(Stage.AWAIT_TURN), "p": product_id},
        )
        line = [pipeline.ledger.get(row.run_id) for row in rows[:LINE]]
        waiting = sorted(
            (r for r in line if r is not None and _waits_for_turn(r)),
            key=lambda r: (r.created_at, r.run_id),
        )
        for run in waiting:
            if wake(pipeline.ledger, pipeline.queues, run.run_id, pipeline.clock, _waits_for_turn):
                log.info(
                    "an offer's turn was given back: the run that waited longest takes it",
                    extra={"action": "turn_waiter_woken", "requestId": run.run_id},
                )
                return run.run_id
    except Exception:
        log.warning("could not wake the runs waiting for an offer's turn", exc_info=True)
    return None


def _waits_for_turn(run: Run) -> bool:
    return run.status is RunStatus.WAITING and run.stage == Stage.AWAIT_TURN
