"""Independent reads at once, each in a copy of the caller's context: the run's correlation
(Client-Request-ID and call count), its claim fence, its budget priority and its trace go with
every call, as if it were made in line.

The reads run on one pool per process, whose threads stay: twenty stages fanning out at once
would otherwise start a hundred threads, each start waiting for the interpreter's lock while
the host is busiest. The caller works through its own items too, so a fan-out never waits for
the pool: with every pool thread held by other stages' calls (waiting on the tenant's budget at
a lower priority, say), a submission's reads still go, one after another, in its own thread."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar, copy_context
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

POOL_THREADS = 64  # more than a host's concurrent stages ever read at once
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_inside = threading.local()  # set while a thread works on a fan-out: one inside runs in line
_failed: ContextVar[Callable[[], bool] | None] = ContextVar("pc_fanout_failed", default=None)


def fan_out(fn: Callable[[T], R], items: Sequence[T], workers: int = 6) -> list[R]:
    """`fn` of each item, in order, at most `workers` at once; the first error is raised once
    all that started have ended, and no item starts after it."""
    if len(items) <= 1 or getattr(_inside, "pool", False):
        return [fn(item) for item in items]
    job = _Job(fn, items)
    pool = _shared_pool()
    for _ in range(min(workers, len(items)) - 1):
        pool.submit(copy_context().run, job.work)
    job.work()  # the caller's share (all of it, if the pool is busy)
    return job.outcome()


def given_up() -> bool:
    """Inside a fan-out's item: another item of it has failed, so what this one would still
    wait for (room in the tenant's budget, say) is wanted no more."""
    failed = _failed.get()
    return failed is not None and failed()


class _Job(Generic[T, R]):
    """One fan-out's items, taken one at a time by whichever thread comes: the caller's or a
    pool thread (one that comes after the last item was taken finds nothing and leaves)."""

    def __init__(self, fn: Callable[[T], R], items: Sequence[T]) -> None:
        self._fn, self._items = fn, items
        self._results: dict[int, R] = {}
        self._error: BaseException | None = None
        self._next = 0
        self._busy = 0
        self._done = threading.Condition()

    def work(self) -> None:
        marked = getattr(_inside, "pool", False)
        _inside.pool = True
        try:
            while (index := self._take()) is not None:
                self._run(index)
        finally:
            _inside.pool = marked

    def _take(self) -> int | None:
        with self._done:
            if self._error is not None or self._next >= len(self._items):
                return None
            self._next += 1
            self._busy += 1
            return self._next - 1

    def failed(self) -> bool:
        return self._error is not None

    def _item(self, index: int) -> R:
        _failed.set(self.failed)
        return self._fn(self._items[index])

    def _run(self, index: int) -> None:
        try:
            result = copy_context().run(self._item, index)
        except BaseException as exc:
            with self._done:
                self._error = self._error or exc
        else:
            with self._done:
                self._results[index] = result
        finally:
            with self._done:
                self._busy -= 1
                self._done.notify_all()

    def outcome(self) -> list[R]:
        """Once every item taken has ended: the results in order, or the first error."""
        with self._done:
            self._done.wait_for(lambda: self._busy == 0)
            if self._error is not None:
                raise self._error
            return [self._results[i] for i in range(len(self._items))]


def _shared_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=POOL_THREADS, thread_name_prefix="fan-out")
        return _pool
