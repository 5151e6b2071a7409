"""The small-batch comparison reads each pair within itself: a slow stretch of the machine
moves both batches of a pair, and must not count against one side."""

from __future__ import annotations

from bench.__main__ import _versus
from bench.small_batch import summary


def _batch(wall: float, critical: float) -> dict[str, float]:
    return {"wall_s": wall, "critical_path_s": critical}


WARM = {"warm": {"wall_s": 13.0}, "critical_path_s": 11.7}


def test_gaps_are_per_pair_not_a_difference_of_medians() -> None:
    # Over their critical paths pc-publisher takes 1.0, 3.0, 3.1 s and the script 1.5, 1.6,
    # 3.6 s: the middle pair ran while the machine was slow for pc-publisher's batch only.
    # The medians (3.0 against 1.6) would call pc-publisher 1.4 s slower; two pairs of
    # three have it 0.5 s faster.
    ours = [_batch(12.7, 11.7), _batch(14.7, 11.7), _batch(14.8, 11.7)]
    theirs = [_batch(13.2, 11.7), _batch(13.3, 11.7), _batch(15.3, 11.7)]
    result = summary(ours, theirs, WARM, (0.0, 0.333, 0.667))
    assert result["gaps_s"] == [-0.5, 1.4, -0.5]
    assert result["gap_s"] == -0.5
    assert _versus(-result["gap_s"]) == "faster by 0.5 s"


def test_the_median_batch_carries_its_own_figures() -> None:
    ours = [
        {**_batch(16.0, 12.0), "stages": ["slow"]},
        {**_batch(14.0, 12.0), "stages": ["fast"]},
        {**_batch(15.0, 12.0), "stages": ["middle"]},
    ]
    theirs = [_batch(13.0, 12.0)] * 3
    result = summary(ours, theirs, WARM, (0.0, 0.333, 0.667))
    assert result["stages"] == ["middle"]
    assert result["overhead_s"] == 3.0
    assert result["naive_overhead_s"] == 1.0
    assert result["gaps_s"] == [3.0, 1.0, 2.0]
    assert _versus(-result["gap_s"]) == "slower by 2.0 s"
