"""Where a batch's time goes: for each stage, when it started and how long it took, as
medians over the runs, relative to the moment the batch was sent.

The gap between one stage's end and the next one's start is the pipeline's own cost (a queue
hop, a poller tick); the stage's duration is its Partner Center calls plus its ledger writes.
"""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any

from shared.ledger import Run, parse_stamp


def profile(runs: list[Run], sent: datetime) -> list[dict[str, Any]]:
    """One row per stage in the order the runs went through them."""
    starts: dict[str, list[float]] = {}
    lengths: dict[str, list[float]] = {}
    for run in runs:
        for record in run.timeline:
            begun = (parse_stamp(record.started) - sent).total_seconds()
            starts.setdefault(record.stage, []).append(begun)
            if record.ended:
                took = (parse_stamp(record.ended) - parse_stamp(record.started)).total_seconds()
                lengths.setdefault(record.stage, []).append(took)
    rows = []
    for stage in sorted(starts, key=lambda s: statistics.median(starts[s])):
        spans = lengths.get(stage, [0.0])
        rows.append(
            {
                "stage": stage,
                "started_s": round(statistics.median(starts[stage]), 2),
                "took_s": round(statistics.median(spans), 2),
                "took_max_s": round(max(spans), 2),
            }
        )
    return rows
