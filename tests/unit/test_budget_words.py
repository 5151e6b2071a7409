"""`pcpub budget`'s reading of the shared budget row: plain facts from the row as stored, and
a row written by a newer version (a priority this one does not know) still read."""

from __future__ import annotations

from pcpub.budget_cli import describe, lines
from shared.partnercenter.budget_window import Window

NOW = 1_800_000_000.0


def test_only_the_last_minute_is_counted_and_marks_gone_by_are_left_out() -> None:
    window = Window(
        rate=900,
        slots={str(int(NOW)): 5, str(int(NOW) - 60): 7, str(int(NOW) - 61): 100},
        pressed={"1": NOW + 1, "3": NOW - 1, "9": NOW + 1},
    )
    state = describe(window, True, NOW)
    assert state["callsLastMinute"] == 12
    assert state["pressing"] == ["offer lookups", "priority 9"]
    assert state["last429"] is None and state["heldUntil"] is None and state["rateSince"] is None
    assert lines(state)[1] == "no 429 from Partner Center yet: the rate is the configured ceiling"


def test_a_knee_long_past_no_longer_bounds_the_climb() -> None:
    window = Window(rate=1200, last_429=NOW - 3600, knee=1100, hold_until=NOW - 3000)
    state = describe(window, True, NOW)
    assert state["last429"] == "2027-01-15T07:00:00Z"
    assert state["kneeHolds"] is None and state["heldUntil"] is None
    assert not any("climbs no higher" in line for line in lines(state))
    assert "no budget yet" in lines(describe(Window(rate=0), False, NOW))[0]
