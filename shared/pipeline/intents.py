"""Ownership proven, never inferred: the intent records of non-idempotent calls.

Before a call that creates something at Partner Center (a package, a submission) or moves it
(promote), the stage records an intent in the ledger (a `Checkpoint`), and only then calls;
the outcome records the result. So every delivery knows where its run stands:

    none      nothing was attempted: record the intent first
    fresh     this invocation just recorded it: make the call
    unknown   an earlier delivery recorded it and never recorded a result (it crashed, the
              answer was lost or malformed): reconcile, and only with an object that matches
              what this run sent and appeared after its baseline
    done      the call succeeded; `id` names what it made
    refused   Partner Center said no, definitely: nothing of ours exists

A definite refusal with no unknown attempt before it means the object in flight is someone
else's: it is never adopted.
"""

from __future__ import annotations

from typing import Literal

from shared.ledger import Run
from shared.pipeline.outcomes import Checkpoint, Patch

IntentState = Literal["none", "fresh", "unknown", "done", "refused"]
SENT, DONE, REFUSED = "sent", "done", "refused"


def state(run: Run, key: str) -> IntentState:
    record = run.intents.get(key)
    if record is None:
        return "none"
    if record.get("state") == DONE:
        return "done"
    if record.get("state") == REFUSED:
        return "refused"
    return "fresh" if key in run.fresh else "unknown"


def made(run: Run, key: str) -> str:
    """The id of what a done intent made."""
    return run.intents[key].get("id", "")


def intend(run: Run, key: str, **facts: str) -> Checkpoint:
    """Record that `key` is about to be called (with what identifies its result)."""
    return intend_all(run, {key: facts})


def intend_all(run: Run, calls: dict[str, dict[str, str]]) -> Checkpoint:
    """Record several intents in one write (e.g. one package per plan)."""
    intents = {**run.intents, **{k: {"state": SENT, **f} for k, f in calls.items()}}
    return Checkpoint(patch=Patch(intents=intents), fresh=tuple(calls))


def record(run: Run, key: str, outcome: str, **facts: str) -> dict[str, dict[str, str]]:
    """The run's intents with `key` resolved (for an outcome's patch)."""
    previous = run.intents.get(key, {})
    return {**run.intents, key: {**previous, "state": outcome, **facts}}
