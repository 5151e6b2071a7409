"""A small batch's latency against the naive parallel script, side by side.

For each shift (throughput.shifts), a cold pc-publisher batch on a fresh stack and, right
after it, the naive script's batch on another fresh stack, both with certification and
publishing that much longer. Each side is set against its own critical path, and each pair
is compared within itself: the machine's speed drifts over the minutes a bench takes (the
same code measured 0.5 s apart, 20 minutes apart, on this 2-core machine), and a pair sees
one speed where two blocks of batches run minutes apart see two.
"""

from __future__ import annotations

import statistics
from typing import Any

from bench import baselines, throughput

SMALL = 20


def run(conditions: dict[str, Any], repeat: int, warm: dict[str, Any]) -> dict[str, Any]:
    """`repeat` pairs; `warm` is a pc-publisher batch run again on its stack once its waits
    were known (throughput.run with warm=True), reported beside the cold ones."""
    ours: list[dict[str, Any]] = []
    theirs: list[dict[str, Any]] = []
    for shift in throughput.shifts(repeat):
        later = shifted(conditions, shift)
        ours.append(throughput.run(SMALL, **later, headroom=0.95, send_after=shift))
        theirs.append(baselines.parallel(SMALL, **later))
    return summary(ours, theirs, warm, throughput.shifts(repeat))


def summary(
    ours: list[dict[str, Any]],
    theirs: list[dict[str, Any]],
    warm: dict[str, Any],
    shifts: tuple[float, ...],
) -> dict[str, Any]:
    """The median pc-publisher batch's figures, every batch's, and the pairs' gaps (each
    pair's own difference, not the difference of two medians: a slow minute moves both)."""
    over = [_over(r) for r in ours]
    naive = [_over(r) for r in theirs]
    gaps = [round(o - n, 1) for o, n in zip(over, naive, strict=True)]
    middle = sorted(range(len(ours)), key=lambda i: over[i])[len(ours) // 2]
    return {
        **ours[middle],  # the median batch's figures (its stages, calls, polls)
        "warm": warm["warm"],
        "warm_critical_path_s": warm["critical_path_s"],
        "shifts_s": list(shifts),
        "walls_s": [r["wall_s"] for r in ours],
        "critical_paths_s": [r["critical_path_s"] for r in ours],
        "overheads_s": over,
        "overhead_s": statistics.median(over),
        "naive_walls_s": [r["wall_s"] for r in theirs],
        "naive_overheads_s": naive,
        "naive_overhead_s": statistics.median(naive),
        "gaps_s": gaps,  # per pair, pc-publisher's time over the naive script's
        "gap_s": statistics.median(gaps),
    }


def shifted(conditions: dict[str, Any], shift: float) -> dict[str, Any]:
    """The conditions with certification and publishing `shift` seconds longer."""
    return {
        **conditions,
        "certify": conditions["certify"] + shift,
        "publish": conditions["publish"] + shift,
    }


def _over(result: dict[str, Any]) -> float:
    return round(float(result["wall_s"]) - float(result["critical_path_s"]), 1)
