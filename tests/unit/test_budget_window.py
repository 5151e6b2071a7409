"""How the tenant budget's rate is learned from 429s: pure window arithmetic, and the budget
driven second by second against a service with a fixed-window limit it does not know."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from shared.partnercenter.budget_window import KNEE_SHARE, KNEE_WINDOWS, Pace, Window


def test_a_429_with_a_full_window_lowers_below_what_was_seen_and_climbs_only_to_the_knee() -> None:
    pace = Pace(1500)
    window = Window(rate=1500, slots={str(pace.slot(10.0)): 1210})
    window = pace.lowered(window, 10.0, retry_after=None)
    assert window.knee == 1210
    assert window.rate == 0.9 * 1210  # not half the ceiling: the count says where the limit is
    for _ in range(10):  # ten more calls of the same burst refused: 1200 got through
        window = pace.lowered(window, 10.5, retry_after=None)
    assert (window.knee, window.rate) == (1200, 0.9 * 1200)
    for t in range(15, 600, 5):  # ten minutes without a 429
        window = pace.rolled(window, float(t))
    assert window.rate == KNEE_SHARE * 1200  # back up, but not above what got through
    window = pace.rolled(window, 10.0 + KNEE_WINDOWS * 60 + 5)
    for t in range(620, 700, 5):  # the knee forgotten: a raised limit is found again
        window = pace.rolled(window, float(t))
    assert window.rate == 1500


def test_a_talk_takes_a_roomy_batch_only_while_the_window_has_room_to_spare() -> None:
    """A burst's first talk takes more than its one caller wants while a quarter of the
    window is free (the rest of the burst then finds calls in hand); near the limit a talk
    takes only what its callers want, and never more than is free."""
    pace = Pace(1200)  # 1,200 calls a window: a quarter is 300
    window = Window(rate=1200, slots={"5": 100})
    assert pace.taken(window, free=500, wanted=1, roomy=16) == 16
    assert pace.taken(window, free=500, wanted=40, roomy=16) == 40  # more wanted: all of it
    assert pace.taken(window, free=299, wanted=1, roomy=16) == 1  # room is tight: as asked
    assert pace.taken(window, free=3, wanted=8, roomy=16) == 3  # never beyond the room
    lowered = Window(rate=40, slots={"5": 1})  # a learned limit of 40: a quarter is 10
    assert pace.taken(lowered, free=12, wanted=1, roomy=16) == 12


def test_a_429_at_a_quiet_moment_halves_and_learns_nothing() -> None:
    """An incident, or another client of the tenant: three calls in the window say nothing of
    the limit, so the rate is halved as before and climbs back to the ceiling."""
    pace = Pace(1200)
    window = pace.lowered(Window(rate=1200, slots={"33": 3}), 100.0, retry_after=2.0)
    assert (window.rate, window.knee, window.hold_until) == (600, 0.0, 102.0)
    assert pace.lowered(window, 101.0, None).rate == 600  # once a step, however many saw it
    for t in range(103, 107):  # no climbing while held: the hold says nothing of the limit
        assert pace.rolled(window, float(t)).rate == 600
    for t in range(110, 180, 5):
        window = pace.rolled(window, float(t))
    assert window.rate == 1200


@dataclass
class FixedWindowService:
    """A tenant limit counted in fixed windows from the first call, as the simulator does."""

    limit: int
    seconds: float = 60.0
    start: float = -1e9
    count: int = 0
    throttled: list[float] = field(default_factory=list)

    def call(self, now: float) -> float | None:
        """None when served, else the Retry-After of a 429."""
        if now - self.start >= self.seconds:
            self.start, self.count = now, 0
        self.count += 1
        if self.count <= self.limit:
            return None
        self.throttled.append(now)
        return self.start + self.seconds - now


def drive(
    pace: Pace, service: FixedWindowService, seconds: int, demand: int = 8, lag: int = 0
) -> int:
    """Every instance's calls, a tenth of a second at a time, with more demand than the limit
    allows; the calls served. A 429 reaches the window `lag` tenths after its call was sent
    (answers take time, and instances hear of it through the row): calls granted meanwhile
    are sent too."""
    window, served = Window(rate=pace.ceiling), 0
    heard: dict[int, list[float]] = {}
    for tick in range(10_000, 10_000 + seconds * 10):
        now = tick / 10
        window = pace.rolled(window, now)
        for late in heard.pop(tick, []):
            window = pace.lowered(window, now, late)
        if window.hold_until > now:
            continue
        grant = min(demand, max(0, pace.free(window, now)))
        pace.count(window, now, grant)
        for _ in range(grant):  # granted calls are all sent: those in flight see 429s too
            retry_after = service.call(now)
            if retry_after is None:
                served += 1
            elif lag:
                heard.setdefault(tick + lag, []).append(retry_after)
            else:
                window = pace.lowered(window, now, retry_after)
    return served


def test_a_ceiling_above_the_limit_costs_one_episode_of_429s_then_none_while_the_knee_holds() -> (
    None
):
    service = FixedWindowService(limit=1200)
    minutes = KNEE_WINDOWS
    served = drive(Pace(1500), service, seconds=60 * minutes)
    episodes = sorted({int((t - 1000) // 60) for t in service.throttled})
    assert episodes and episodes[-1] <= 1, episodes  # learned within two windows, then quiet
    assert len(service.throttled) <= 2 * 8, len(service.throttled)  # those in flight, each
    assert served >= 0.9 * 1200 * minutes, served  # and the limit is used, not halved


@pytest.mark.parametrize(("lag", "most"), [(2, 6), (5, 16)])
def test_a_burst_meets_an_unknown_limit_with_few_calls_in_flight(lag: int, most: int) -> None:
    """Three instances' first burst (400 calls a second wanted), 429s heard `lag` tenths of a
    second late: the window fills at once only to half, then at the average pace, a slot's
    share let out in waves, so the limit is crossed with the calls of the waves let out before
    the 429 is heard in flight (a fifth of a slot each), not the slot's share nor the burst."""
    service = FixedWindowService(limit=1200)
    served = drive(Pace(1500), service, seconds=180, demand=40, lag=lag)
    assert 0 < len(service.throttled) <= most, len(service.throttled)  # 25 a slot at once
    assert served >= 0.85 * 1200 * 3, served


def test_what_got_through_is_then_taken_at_once() -> None:
    """A window that held its calls with no 429 proves them: the next window's burst may take
    as many at once, so pacing costs only the first window under an unknown limit."""
    pace = Pace(1200)
    window = Window(rate=1200)
    assert pace.free(window, 100.0) == 600  # nothing proven: half the window at once
    window.slots = {str(pace.slot(100.0)): 600}
    assert pace.free(window, 100.0) == 0  # then a slot's share a slot (this one's is taken)
    assert pace.frees_at(window, 100.5) == 101.0  # so room comes with the next slot
    assert pace.free(window, 101.0) == 4  # a fifth of it: test_a_paced_slot_goes_out_in_waves
    window = pace.rolled(window, 103.0)  # the 600 settled, and no 429 came
    assert window.proven == 600
    window.slots = {str(pace.slot(110.0)): 1000}
    window = pace.rolled(window, 113.0)
    assert window.proven == 1000
    window = pace.rolled(window, 175.0)  # the 1,000 left the window
    assert pace.free(window, 175.0) == 1000
    lowered = pace.lowered(Window(rate=1200, slots={"180": 1100}, proven=1200), 180.0, 30.0)
    assert lowered.proven == lowered.rate == 0.9 * 1100  # the limit fell: proven no longer


def test_a_paced_slot_goes_out_in_waves() -> None:
    """Beyond the calls taken at once, a slot's share (20 at 1,200 a minute) goes out a fifth
    at each fifth of the slot; a wave left unused is not added to a later one (the calls of
    a talk go out together: that would be the slot's share in flight again)."""
    pace = Pace(1200)
    window = Window(rate=1200, slots={"100": 600})
    assert [pace.free(window, 101.0 + t) for t in (0.0, 0.19, 0.2, 0.4, 0.6, 0.8)] == [4] * 6
    pace.count(window, 101.0, 3)
    assert pace.free(window, 101.1) == 1
    pace.count(window, 101.1, 1)
    assert pace.free(window, 101.1) == 0
    assert pace.frees_at(window, 101.1) == 101.2  # the next wave
    assert pace.free(window, 101.1, whole_slot=True) == 16  # the poller's count: all waves'
    assert pace.free(window, 101.2) == 4
    pace.count(window, 101.8, 4)
    assert pace.free(window, 101.9) == 0
    assert pace.frees_at(window, 101.9) == 102.0  # the next slot
    assert window.slots["101"] == 8


def test_a_ceiling_far_above_the_limit_is_brought_down_in_a_few_windows() -> None:
    service = FixedWindowService(limit=1200)
    served = drive(Pace(12000), service, seconds=60 * 8, demand=40)
    late = [t for t in service.throttled if t >= 1000 + 60 * 5]
    assert not late, late
    assert served >= 0.75 * 1200 * 8, served
