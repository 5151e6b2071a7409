"""A stage in transient trouble for long is announced, once per visit to the stage.

Trouble that lasts (an offer's endpoint failing, an answer of a shape that will not change)
is retried less and less often until the run's deadline, two weeks away: without a word, the
requesting system would hear of it only when the run fails. After `trouble_seconds` at the
stage, a `troubled` event names the stage and the trouble, and the operators' alert fires.
The open stage record keeps the mark (its `result`), so later retries stay quiet; a new
visit to the stage starts a new record, and a new count.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from shared.ledger import Run, StageRecord, parse_stamp
from shared.messages import EventKind, Stage
from shared.pipeline.events import emit

if TYPE_CHECKING:
    from shared.pipeline.effects import Pipeline

log = logging.getLogger(__name__)
TROUBLED = "troubled"  # an open stage record's result once its trouble was announced


def marked(
    timeline: list[StageRecord], stage: Stage, now: datetime, after: float
) -> list[StageRecord] | None:
    """The timeline with the open record of `stage` marked as announced, when the stage has
    been at it `after` seconds and was not announced yet; else None."""
    last = timeline[-1] if timeline else None
    if last is None or last.stage != stage or last.ended is not None or last.result == TROUBLED:
        return None
    if (now - parse_stamp(last.started)).total_seconds() < after:
        return None
    return [*timeline[:-1], replace(last, result=TROUBLED)]


def announce(pipeline: Pipeline, run: Run, stage: Stage, reason: str) -> None:
    """Say that `run` has been in trouble at `stage` since the stage started (an event, for
    the requesting system and the sinks; a warning, for the operators' alert)."""
    since = run.timeline[-1].started if run.timeline else "?"
    said = f"{stage} in trouble since {since}: {reason}; tried again less and less often"
    log.warning(said, extra={"action": "run_troubled", "requestId": run.run_id, "stage": stage})
    emit(pipeline, EventKind.TROUBLED, run, said)
