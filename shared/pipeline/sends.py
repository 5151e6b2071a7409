"""What the pipeline sends to hand a run on: a stage's message, and a waiting run's status
check, sent by the poller's tick or by the write that set the check's time when that time
comes sooner than a tick could send it.

A tick sends the checks due before the next tick; a check aimed at where answers of its
kind came (shared.wait_history) and due sooner than one base poll interval after the write
that set it (the second of two aims half a second apart) may fall before the next tick
although it was written after the last one, and would run a tick late. That write sends it
itself, and marks its index row (`check_sent`), so no tick sends it again while it is on its
way. A send lost with its instance leaves the mark; the tick sends the check once the mark's
lease is over. Every other check is the tick's, sent in the tick's order (those that lead on
first) and no more than the tenant's budget has room for: checks that sent themselves every
second would take the polls' share of the budget ahead of the tick's, and starve those.
While the budget holds polls back, aimed checks are the tick's too.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import datetime, timedelta

from shared.ledger import Ledger, LedgerConflict
from shared.messages import Stage, StageMessage
from shared.partnercenter.budget import TenantBudget
from shared.queues import CHECKS, QueueSender
from shared.run_index import IndexRow
from shared.runs import Run, parse_stamp, stamp

log = logging.getLogger(__name__)


def stage_message(run: Run | IndexRow, stage: Stage, check_at: str | None = None) -> str:
    """The message that hands `run` to `stage` (a check's names the due time it is for; the
    poller sends it from the run's index row). It names the offer too, so a run whose ledger
    row is lost can still be reported by it."""
    return StageMessage(
        run_id=run.run_id,
        stage=stage,
        offer=run.offer or None,
        product_id=run.product_id,
        traceparent=run.trace,
        check_at=check_at,
    ).to_json()


def send_check(queues: QueueSender, body: str, check_at: str, now: datetime) -> None:
    """Send a check message, out of sight until the last whole second before it is due (the
    check holds the rest): one due within the second goes through the output binding and
    wakes its listener. `now`: the moment of sending (a delay counted from a tick's or a
    write's start would hide the check past its due time by however long that took)."""
    ahead = (parse_stamp(check_at) - now).total_seconds()
    queues.send(CHECKS, body, delay_seconds=max(0, math.floor(ahead)))


def sends_itself(delay_seconds: float, poll_seconds: float, budget: TenantBudget | None) -> bool:
    """Whether the write that sets a check this far ahead sends it: sooner than a tick (which
    comes once a base poll interval) might, and while the tenant's budget lets polls through.
    Else the tick sends it, no more checks than the budget has room for."""
    return delay_seconds < poll_seconds and (budget is None or not budget.holds_polls())


def on_its_way(row: IndexRow, now: datetime, lease_seconds: float) -> bool:
    """The write that set the row's check sent it, and its lease is not over."""
    if not row.check_sent or row.check_sent != row.next_check_at:
        return False
    return now < parse_stamp(row.next_check_at) + timedelta(seconds=lease_seconds)


def send_set_check(queues: QueueSender, run: Run, now: datetime) -> None:
    """Send the check the write of `run` just set and marked; one not sent is sent by the
    tick once its mark's lease is over."""
    try:
        body = stage_message(run, Stage(run.stage), check_at=run.next_check_at)
        send_check(queues, body, run.next_check_at or "", now)
    except Exception:
        log.warning("could not send a check; the poller will", extra={"requestId": run.run_id})


def wake(
    ledger: Ledger,
    queues: QueueSender,
    run_id: str,
    clock: Callable[[], datetime],
    waiting: Callable[[Run], bool],
) -> bool:
    """Move the next check of a run that is `waiting` to now, with a conditional write that
    marks it sent, then send it: a copy is consumed as stale, and a wake lost with its
    instance is sent by the tick once the mark's lease is over. False when the run waits no
    more, is woken already (its check is on its way), or moved meanwhile (left to its move)."""
    mate = ledger.get(run_id)
    at = stamp(clock())
    if mate is None or not waiting(mate):
        return False
    marked = mate.check_sent if mate.check_sent == mate.next_check_at else None
    if marked and marked <= at:
        return False
    try:
        woken = ledger.replace(mate.evolve(next_check_at=at, check_sent=at))
    except LedgerConflict:
        return False
    send_set_check(queues, woken, clock())
    return True
