"""Independent reads at once, each in a copy of the caller's context: the run's correlation
(Client-Request-ID and call count), its claim fence, its budget priority and its trace go with
every call, as if it were made in line.

The reads run on one pool per process, whose threads stay: twenty stages fanning out at once
would otherwise start a hundred threads, each start waiting for the interpreter's lock while
the host is busiest."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextvars import copy_context
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

POOL_THREADS = 64  # more than a host's concurrent stages ever read at once
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_inside = threading.local()  # set on the pool's threads: a fan-out there runs in line


def fan_out(fn: Callable[[T], R], items: Sequence[T], workers: int = 6) -> list[R]:
    """`fn` of each item, in order, at most `workers` at once; the first error is raised once
    all that started have ended."""
    if len(items) <= 1 or getattr(_inside, "pool", False):
        return [fn(item) for item in items]
    pool = _shared_pool()
    results: dict[int, R] = {}
    running: dict[Future[R], int] = {}
    error: BaseException | None = None
    sent = 0
    while True:
        while error is None and sent < len(items) and len(running) < workers:
            running[pool.submit(copy_context().run, _marked, fn, items[sent])] = sent
            sent += 1
        if not running:
            break
        done, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in done:
            index = running.pop(future)
            if future.exception() is not None:
                error = error or future.exception()
            else:
                results[index] = future.result()
    if error is not None:
        raise error
    return [results[i] for i in range(len(items))]


def _marked(fn: Callable[[T], R], item: T) -> R:
    _inside.pool = True
    return fn(item)


def _shared_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=POOL_THREADS, thread_name_prefix="fan-out")
        return _pool
