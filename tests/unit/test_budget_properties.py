"""The tenant budget's window arithmetic under any sequence of talks, 429s and pauses
(hypothesis, derandomized so a run is the same every time): whatever the service says, the
rate stays between the floor and the ceiling, a 429 never raises it nor more than halves it
unless the window's count says where the limit is, and no window-long stretch of time is
granted more calls than the rate allows at the moment of granting, which is what keeps every
instance together under the tenant's limit."""

from __future__ import annotations

from collections import deque

from hypothesis import given, settings, strategies as st

from shared.partnercenter.budget_window import Pace, Window

ROOMY = 16  # TenantBudget's roomy batch
STEPS = st.lists(
    st.tuples(
        st.floats(min_value=0.0, max_value=20.0),  # seconds since the step before
        st.sampled_from(["take", "take", "take", "429", "roll"]),
        st.integers(min_value=1, max_value=400),  # calls wanted by the talk
        st.one_of(st.none(), st.floats(min_value=0.0, max_value=30.0)),  # Retry-After
    ),
    min_size=1,
    max_size=120,
)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(
    st.floats(min_value=6.0, max_value=5000.0),
    st.floats(min_value=0.0, max_value=1e9),
    STEPS,
)
def test_no_stretch_of_a_window_is_granted_more_than_the_rate_allows(
    ceiling: float, start: float, steps: list[tuple[float, str, int, float | None]]
) -> None:
    pace = Pace(ceiling)
    window, now = Window(rate=ceiling), start
    granted: deque[tuple[float, int]] = deque()
    for seconds, what, wanted, retry_after in steps:
        now += seconds
        window = pace.rolled(window, now)
        assert pace.floor <= window.rate <= ceiling
        if what == "429":
            before = window.rate
            window = pace.lowered(window, now, retry_after)
            assert pace.floor <= window.rate <= before
            assert window.rate >= min(before, max(pace.floor, before / 2)) or window.knee
            continue
        if what == "roll" or window.hold_until > now:  # held: TenantBudget grants nothing
            continue
        free = pace.free(window, now)  # at most the room left; none may be less than none
        assert free <= pace.cap(window) - window.used()
        if free <= 0:
            continue
        grant = pace.taken(window, free, wanted, ROOMY)
        assert 0 < grant <= free
        pace.count(window, now, grant)
        granted.append((now, grant))
        while granted[0][0] <= now - pace.window_seconds:
            granted.popleft()
        assert sum(n for _, n in granted) <= pace.cap(window)
