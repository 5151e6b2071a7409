"""An answer for one run is news for its batch-mates: when a check finds a long wait on
Partner Center over, the runs of the same offer type that have waited in the same stage
since no later get their next check moved up to now, for the poller's next tick to send.

A run's checks thin out as its wait grows (a tenth of the time waited, up to the longest
interval: 15 minutes as deployed), so offers submitted together, whose certification or
publishing ends together, would each hear of it up to an interval apart, and a release goes
live with the last of them. Partner Center works through a tenant's submissions in about the
order they came: a wait seen over says the waits that began before it are likely over too.
Where not, a nudge costs one status read, which the budget serves after the stages' calls
(the tick dispatches it), and the mate's checks thin out again from its own time waited.

Only where it can matter: the finder waited at least `STRETCHED` base intervals (shorter
waits are still polled at the base interval), and a mate's next check is over a base
interval away. At most `MAX_MATES` a wait end. Best effort: a mate whose own check wrote
first is left to it, and nothing here fails the finder's write.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from shared.ledger import Ledger, LedgerConflict, RunStatus
from shared.messages import Stage
from shared.pipeline.learned_waits import wait_ended
from shared.pipeline.outcomes import Outcome
from shared.runs import Run, parse_stamp, stamp

log = logging.getLogger(__name__)
STRETCHED = 10  # base intervals waited before checks thin out (StageDeps.next_poll: a tenth)
MAX_MATES = 32


def nudge_mates(
    ledger: Ledger, run: Run, stage: Stage, outcome: Outcome, now: datetime, poll_seconds: float
) -> int:
    """After the write that took `run` out of a long wait (its answer came): move up the next
    check of the runs waiting alongside since no later. How many were moved."""
    began = wait_ended(run, stage, outcome)
    if began is None or (now - began).total_seconds() < STRETCHED * poll_seconds:
        return 0
    latest = began + timedelta(seconds=poll_seconds)  # submitted within a base interval
    soon = stamp(now + timedelta(seconds=poll_seconds))
    moved = 0
    try:
        rows = ledger.index.query(
            "status eq @s and stage eq @st and next_check_at gt @soon",
            {"s": str(RunStatus.WAITING), "st": str(stage), "soon": soon},
        )
        for row in rows:
            if moved >= MAX_MATES:
                break
            if row.run_id == run.run_id:
                continue
            mate = ledger.get(row.run_id)
            if mate is None or not is_mate(mate, run.offer_type, stage, latest, soon):
                continue
            try:
                ledger.replace(mate.evolve(next_check_at=stamp(now), check_sent=None))
            except LedgerConflict:
                continue  # its own check (or another finder) wrote first
            moved += 1
    except Exception:
        log.warning("could not move up the checks of a run's batch-mates", exc_info=True)
    if moved:
        log.info(
            "a wait in %s ended: %d runs waiting alongside are checked now",
            stage,
            moved,
            extra={"action": "mates_nudged", "requestId": run.run_id, "stage": stage},
        )
    return moved


def is_mate(mate: Run, offer_type: str, stage: Stage, latest: datetime, soon: str) -> bool:
    """`mate` waits in `stage` on an offer of the same type, its wait began by `latest`, and
    its next check is after `soon` (so moving it up gains something)."""
    last = mate.timeline[-1] if mate.timeline else None
    return (
        mate.status is RunStatus.WAITING
        and mate.stage == stage
        and mate.offer_type == offer_type
        and bool(mate.next_check_at)
        and (mate.next_check_at or "") > soon
        and last is not None
        and last.stage == stage
        and last.ended is None
        and parse_stamp(last.started) <= latest
    )
