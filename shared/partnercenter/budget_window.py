"""The tenant's budget window as its shared row holds it, and how its rate moves: pure logic,
so the learning can be tested without storage.

Partner Center does not publish its limit, so the rate starts at the configured ceiling and is
learned from 429s. A 429 says the limit was reached with about as many calls in the window as
the row counts then ("seen"); that count is a better measure of the limit than the rate we
happened to allow. So a 429 lowers the rate to below what was seen (never more than halving it
at once: a 429 at a quiet moment, an incident or another client of the tenant, says little of
the limit), and remembers what was seen as the knee. The knee loses one for every other call
of the same burst that was refused (granted, counted and sent, but not let through) and for
every call an instance took and gives back unsent when it hears of the 429.

The rate then climbs back a twentieth of the ceiling a step while no 429 comes, but only to
just under the knee while the knee is fresh; after `KNEE_WINDOWS` windows without a 429 the
knee is forgotten and the climb goes on to the ceiling, so a limit that was raised is found
again. A ceiling above the real limit thus costs one episode of 429s every `KNEE_WINDOWS`
windows of full load, not one every climb.

An episode costs the calls in flight when the limit is crossed, so the window is filled fast
only up to what the service has let through (`proven`: the most calls a window held with no
429), or half the window while nothing is proven; beyond that it fills at the rate's average
pace, a slot's share a slot, let out in `WAVES` waves across the slot, no wave larger than its
fifth (calls taken together are sent together: a slot's share at once met the limit with 25
calls in flight). A small batch goes at once; a large one meets an unknown limit with a wave's
calls in flight, not a slot's, nor every instance's burst.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

SLOTS = 60  # the sliding window is counted in this many slots (a second each, by default)
KNEE_SHARE = 0.95  # the rate climbs back to this share of the calls a 429 was seen at
KNEE_WINDOWS = 10  # windows without a 429 after which the knee is forgotten
BACK_OFF = 0.9  # a 429 lowers the rate to this share of what was seen (at most halving)
FAST_SHARE = 0.5  # of the window's calls taken at once while the service has proven fewer
ROOMY_SHARE = 0.25  # of the window's calls free: a talk may take more than its callers want
SETTLED_SLOTS = 2  # calls granted this many slots ago have had their answer
WAVES = 5  # a paced slot's share is let out in this many waves, one at each fifth of the slot


@dataclass
class Window:
    rate: float  # calls per minute for the tenant, now
    slots: dict[str, int] = field(default_factory=dict)  # slot number -> calls granted in it
    last_429: float = 0.0
    changed_at: float = 0.0  # when the rate last moved (a lowering or a step back up)
    hold_until: float = 0.0  # nobody calls before this (a 429's Retry-After)
    # priority -> until when callers of that priority found no room (lower ones keep off)
    pressed: dict[str, float] = field(default_factory=dict)
    knee: float = 0.0  # calls per minute in the window when the service last said 429
    proven: float = 0.0  # the most calls per minute a window held with no 429
    wave: int = -1  # the paced wave calls were last granted in (slot * WAVES + its index)
    wave_granted: int = 0  # the calls granted in it

    def used(self) -> int:
        return sum(self.slots.values())


@dataclass(frozen=True)
class Pace:
    """The budget's fixed settings, and the window's arithmetic under them."""

    ceiling: float  # calls per minute: `PC_RATE_LIMIT_PER_MINUTE`
    window_seconds: float = 60.0
    floor: float = 6.0

    @property
    def slot_seconds(self) -> float:
        return self.window_seconds / SLOTS

    @property
    def step_seconds(self) -> float:
        return self.window_seconds / 12

    def slot(self, now: float) -> int:
        return int(now // self.slot_seconds)

    def per_minute(self, calls: float) -> float:
        return calls * 60 / self.window_seconds

    def top(self, window: Window, now: float) -> float:
        """The most the rate may climb to now: just under a fresh knee, else the ceiling."""
        fresh = now - window.last_429 < KNEE_WINDOWS * self.window_seconds
        if window.knee and fresh:
            return min(self.ceiling, max(self.floor, KNEE_SHARE * window.knee))
        return self.ceiling

    def rolled(self, window: Window, now: float) -> Window:
        """The window as of `now`: slots older than the window dropped, and the rate a step
        back up when a step has passed without a 429."""
        # Slots and marks more than a window ahead of this clock are an instance whose clock
        # runs far fast (or a test's driven clock): not counted, or they would hold the window
        # shut for all. Anything nearer is counted: `now` may be a little old by the time the
        # row is read, and another instance's newer slot must still count.
        # A slot is counted until a whole window has passed since its last moment: the
        # current slot and SLOTS whole ones before it, so no window-long stretch of time (the
        # service's, however aligned) holds more than the rate allows.
        oldest, newest = self.slot(now) - SLOTS, self.slot(now) + SLOTS
        window.slots = {k: v for k, v in window.slots.items() if oldest <= int(k) <= newest}
        ahead = now + self.window_seconds
        window.pressed = {k: t for k, t in window.pressed.items() if now < t <= ahead}
        if now - window.last_429 >= self.window_seconds:  # every call counted got through
            settled = self.slot(now) - SETTLED_SLOTS
            held = sum(n for k, n in window.slots.items() if int(k) <= settled)
            window.proven = max(window.proven, self.per_minute(held))
        # A step is quiet from the end of a Retry-After hold: no calls, no news of the limit.
        quiet = now - max(window.last_429, window.changed_at, window.hold_until)
        top = self.top(window, now)
        if window.rate < top and quiet >= self.step_seconds:
            window.rate = min(top, window.rate + self.ceiling / 20)
            window.changed_at = now
        return window

    def lowered(
        self, window: Window, now: float, retry_after: float | None, unsent: int = 0
    ) -> Window:
        """The rolled window after a 429 at `now`: lowered once a step, however many calls
        saw it, and held until Retry-After. `unsent`: calls just given back to the window
        (taken, never sent), which the knee no longer counts either."""
        if now - window.last_429 >= self.step_seconds:
            seen = self.per_minute(window.used())
            if seen >= window.rate / 2:  # we were near our rate: the limit is about here
                window.knee = seen
            window.rate = max(self.floor, window.rate / 2, BACK_OFF * min(window.rate, seen))
            window.proven = min(window.proven, window.rate)
            window.changed_at = now
        elif window.knee:  # another call of the same burst refused: one fewer got through
            window.knee = max(self.floor, window.knee - self.per_minute(1 + unsent))
            window.rate = max(self.floor, min(window.rate, BACK_OFF * window.knee))
        window.last_429 = now
        if retry_after:
            window.hold_until = max(window.hold_until, now + retry_after)
        return window

    def frees_at(self, window: Window, now: float) -> float:
        """When there is room again: the next wave that lets out more than the slot granted
        (or the next slot) while the window fills at the average pace, else when the oldest
        counted slot leaves the window, giving its calls back."""
        if window.used() < self.cap(window):
            slot = self.slot(now)
            granted = window.slots.get(str(slot), 0)
            share = math.ceil(self.cap(window) / SLOTS)
            for wave in range(self.waves_out(now), WAVES):  # the waves still to come
                if math.ceil(share * (wave + 1) / WAVES) > granted:
                    return (slot + wave / WAVES) * self.slot_seconds
            return (slot + 1) * self.slot_seconds
        oldest = min((int(k) for k in window.slots), default=self.slot(now))
        return (oldest + SLOTS + 1) * self.slot_seconds

    def cap(self, window: Window) -> int:
        """The calls the window may hold at its rate."""
        return int(window.rate * self.window_seconds / 60) or 1

    def free(self, window: Window, now: float, *, whole_slot: bool = False) -> int:
        """Calls the rolled window has room for now: at once up to what the service has
        proven (or half the window), then a slot's share a slot, a wave at a time (with
        `whole_slot`, what the slot still lets out in all its waves)."""
        cap = self.cap(window)
        used = window.used()
        fast = int(max(window.proven * self.window_seconds / 60, FAST_SHARE * cap))
        if used < fast:
            return min(cap, fast) - used
        share = math.ceil(cap / SLOTS)
        slot_granted = window.slots.get(str(self.slot(now)), 0)
        if whole_slot:
            return min(cap - used, max(0, share - slot_granted))
        out = math.ceil(share * self.waves_out(now) / WAVES) - slot_granted
        # A wave's calls at most, whatever earlier waves left: they would go out together.
        granted = window.wave_granted if window.wave == self.wave(now) else 0
        return min(cap - used, max(0, min(out, math.ceil(share / WAVES) - granted)))

    def count(self, window: Window, now: float, calls: int) -> None:
        """`calls` granted at `now`: counted in their slot, and in their wave."""
        slot, wave = str(self.slot(now)), self.wave(now)
        window.slots[slot] = window.slots.get(slot, 0) + calls
        window.wave_granted = calls + (window.wave_granted if window.wave == wave else 0)
        window.wave = wave

    def wave(self, now: float) -> int:
        return self.slot(now) * WAVES + self.waves_out(now) - 1

    def waves_out(self, now: float) -> int:
        """The waves of the current slot let out by `now` (a hair early, so a caller woken at
        a wave's start finds it out whatever the float arithmetic)."""
        into = now / self.slot_seconds - self.slot(now)
        return min(WAVES, math.floor(into * WAVES + 1e-6) + 1)

    def taken(self, window: Window, free: int, wanted: int, roomy: int) -> int:
        """The calls one talk to the row takes for callers wanting `wanted` (`free` being the
        window's room now): while a quarter of the window is free, at least `roomy`, so
        that the callers arriving during the talk (the rest of a burst) find a call in hand
        instead of queueing for a talk of their own. What is left unmade is given back with
        the next talk; where room is tight, nobody holds more than its callers asked for."""
        if free >= ROOMY_SHARE * self.cap(window):
            wanted = max(wanted, roomy)
        return min(wanted, free)


def pressing(window: Window, level: int) -> list[float]:
    """Until when callers of a higher priority than `level` keep it off (rolled window: only
    marks still fresh)."""
    return [t for p, t in window.pressed.items() if int(p) < level]
