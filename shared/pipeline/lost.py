"""Runs the ledger no longer has: their row was lost (the table deleted or restored) while a
message of theirs, or the index of runs still going, still names them."""

from __future__ import annotations

import logging

from shared.ledger import Run, RunStatus, stamp
from shared.messages import EventKind, StageMessage
from shared.pipeline.effects import Pipeline
from shared.pipeline.events import emit
from shared.run_index import IndexRow

log = logging.getLogger(__name__)


def report_lost(pipeline: Pipeline, message: StageMessage | IndexRow) -> None:
    """A run the ledger does not have although its message or the index names it: its row
    was lost (the table deleted or restored). Nothing can be resumed safely without it: say
    so loudly, to the operator and to the sender, with what is known (the index row knows
    the run's submission), and remember that submission as pc-publisher's, so the next run
    of the offer clears it out of its way instead of calling it someone else's."""
    if isinstance(message, StageMessage):  # the index row, if any, knows more than a message
        row = pipeline.ledger.index.get(message.run_id) or _row_of(message)
    else:
        row = message
    where = f"offer {row.offer or '?'}" + (f", product {row.product_id}" if row.product_id else "")
    left = (
        f"its submission {row.submission_id} is left in Partner Center (the offer's next run "
        "deletes it if it is still in progress)"
        if row.submission_id
        else "anything the run made in Partner Center is left as it is"
    )
    reason = (
        f"the ledger has no record of run {row.run_id} ({where}) at stage {row.stage}: it "
        f"was lost; {left}. Send the request again to publish."
    )
    log.error(reason, extra={"action": "unknown_run", "requestId": row.run_id})
    at = stamp(pipeline.clock())
    lost = Run(
        run_id=row.run_id,
        status=RunStatus.FAILED,
        stage=row.stage,
        offer=row.offer,
        product_id=row.product_id,
        submission_id=row.submission_id,
        reason=reason,
        created_at=at,
        updated_at=at,
    )
    created = pipeline.ledger.create(lost)  # readable again by `pcpub status`
    if row.product_id and row.submission_id:
        pipeline.ledger.remember_submission(row.product_id, row.submission_id, row.run_id)
    pipeline.ledger.index.drop(row.run_id)
    if created:  # once, whether its message or the poller's sweep found it first
        emit(pipeline, EventKind.FAILED, lost, reason)


def _row_of(message: StageMessage) -> IndexRow:
    return IndexRow(
        run_id=message.run_id,
        stage=str(message.stage),
        offer=message.offer or "",
        product_id=message.product_id,
        submission_id=None,
        updated_at="",
    )
