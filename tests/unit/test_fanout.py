"""fan_out: order kept, concurrency bounded, context carried, errors raised, threads reused,
and no fan-out waits for a busy pool."""

from __future__ import annotations

import contextvars
import threading
import time

import pytest

from shared.fanout import POOL_THREADS, _shared_pool, fan_out

WHO = contextvars.ContextVar("who", default="nobody")


def test_results_come_back_in_the_order_of_the_items() -> None:
    def slow_first(n: int) -> int:
        time.sleep(0.05 if n == 0 else 0)
        return n * 10

    assert fan_out(slow_first, [0, 1, 2, 3]) == [0, 10, 20, 30]


def test_no_more_than_workers_run_at_once_and_they_do_overlap() -> None:
    lock = threading.Lock()
    now, most = [0], [0]

    def count(_: int) -> None:
        with lock:
            now[0] += 1
            most[0] = max(most[0], now[0])
        time.sleep(0.03)
        with lock:
            now[0] -= 1

    fan_out(count, list(range(12)), workers=3)
    assert most[0] == 3


def test_each_call_sees_the_callers_context() -> None:
    token = WHO.set("run-7")
    try:
        assert fan_out(lambda _: WHO.get(), [1, 2, 3]) == ["run-7"] * 3
    finally:
        WHO.reset(token)


def test_the_first_error_is_raised_and_no_item_starts_after_it() -> None:
    started: list[int] = []

    def fail_on_one(n: int) -> int:
        started.append(n)
        if n == 1:
            raise LookupError("no such module")
        time.sleep(0.02)
        return n

    with pytest.raises(LookupError, match="no such module"):
        fan_out(fail_on_one, list(range(10)), workers=2)
    assert len(started) < 10


def test_a_fan_out_inside_a_fan_out_runs_in_line_instead_of_waiting_on_the_pool() -> None:
    def inner(n: int) -> list[str]:
        return fan_out(lambda _: threading.current_thread().name, [n, n])

    names = fan_out(inner, list(range(8)), workers=8)
    for pair in names:
        assert pair[0] == pair[1]  # both items ran on the outer call's thread


def test_threads_are_kept_between_calls() -> None:
    for _ in range(20):
        fan_out(lambda _: time.sleep(0.001), list(range(6)))
    pool = [t for t in threading.enumerate() if t.name.startswith("fan-out")]
    assert 5 <= len(pool) <= 16  # the caller and five helpers, not a thread per item (120)


def test_a_fan_out_goes_on_when_every_pool_thread_is_held() -> None:
    """Other stages' calls holding every pool thread (waiting on the budget at a lower
    priority) do not hold a submission's reads: the caller makes them itself."""
    release, lock, held = threading.Event(), threading.Lock(), [0]

    def hold() -> None:
        with lock:
            held[0] += 1
        release.wait(10)

    pool = _shared_pool()
    blockers = [pool.submit(hold) for _ in range(POOL_THREADS)]
    try:
        deadline = time.monotonic() + 5
        while held[0] < POOL_THREADS and time.monotonic() < deadline:
            time.sleep(0.01)
        assert held[0] == POOL_THREADS
        started = time.monotonic()
        assert fan_out(lambda n: n * 2, [1, 2, 3]) == [2, 4, 6]
        assert time.monotonic() - started < 1.0
    finally:
        release.set()
        for blocker in blockers:
            blocker.result(10)
