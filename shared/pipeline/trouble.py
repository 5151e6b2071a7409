"""Transient trouble that lasts is announced, once for each stretch of it.

Trouble that lasts (an offer's endpoint failing, an answer of a shape that will not change)
is retried less and less often until the run's deadline, two weeks away: without a word, the
requesting system would hear of it only when the run fails. The run keeps when its trouble
began (its first retry of it) and whether it was announced; after `trouble_seconds` of it, a
`troubled` event names the stage, since when and why, and the operators' alert fires. Any
other outcome (the stage got on, a check found its wait going on) ends the stretch.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.ledger import Run, parse_stamp, stamp
from shared.messages import EventKind, Stage
from shared.pipeline.events import emit

if TYPE_CHECKING:
    from shared.pipeline.effects import Pipeline

log = logging.getLogger(__name__)
AGAIN = "tried again less and less often"


def noted(
    run: Run, now: datetime, after: float, troubled: bool = True
) -> tuple[dict[str, Any], bool]:
    """The run's trouble fields after one more retry at `now`, and whether the trouble is to
    be announced now: it has lasted `after` seconds, and was not announced yet. A retry that
    is no trouble (files still processing) ends a stretch, as any other outcome does."""
    if not troubled:
        return {"troubled_since": None, "trouble_said": None}, False
    since = run.troubled_since or stamp(now)
    due = not run.trouble_said and (now - parse_stamp(since)).total_seconds() >= after
    return {"troubled_since": since, "trouble_said": stamp(now) if due else run.trouble_said}, due


def over(run: Run) -> Run:
    """The run with its stretch of trouble, if any, ended (any outcome but a retry)."""
    if run.troubled_since is None and run.trouble_said is None:
        return run
    return run.evolve(troubled_since=None, trouble_said=None)


def announce(pipeline: Pipeline, run: Run, stage: Stage, reason: str) -> None:
    """Say that `run` has been in trouble at `stage` since its first retry (an event, for the
    requesting system and the sinks; a warning, for the operators' alert)."""
    said = f"{stage} in trouble since {run.troubled_since}: {reason}; {AGAIN}"
    log.warning(said, extra={"action": "run_troubled", "requestId": run.run_id, "stage": stage})
    emit(pipeline, EventKind.TROUBLED, run, said)
