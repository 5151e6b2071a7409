"""Independent reads at once, each in a copy of the caller's context: the run's correlation
(Client-Request-ID and call count), its claim fence, its budget priority and its trace go with
every call, as if it were made in line."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def fan_out(fn: Callable[[T], R], items: Sequence[T], workers: int = 6) -> list[R]:
    """`fn` of each item, in order; the first error is raised once all have ended."""
    if len(items) <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        futures = [pool.submit(copy_context().run, fn, item) for item in items]
        return [future.result() for future in futures]
