"""What goes with every Partner Center call a stage makes, without being passed down: the
run it is made for (its Client-Request-ID and a count of its calls) and the fence a
non-idempotent call must pass right before it is sent. Context variables, so a fan-out's
reads (shared.fanout copies the context) carry them as if made in line."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

_correlation: ContextVar[str | None] = ContextVar("pc_correlation", default=None)
_call_counter: ContextVar[list[int] | None] = ContextVar("pc_call_counter", default=None)
# Checked right before each non-idempotent call is sent: raises when the caller may no longer
# make it (its delivery's claim on the stage was taken over by another delivery).
_fence: ContextVar[Callable[[], None] | None] = ContextVar("pc_fence", default=None)


@contextlib.contextmanager
def fenced(check: Callable[[], None]) -> Iterator[None]:
    token = _fence.set(check)
    try:
        yield
    finally:
        _fence.reset(token)


@contextlib.contextmanager
def correlation(run_id: str) -> Iterator[list[int]]:
    """Tag the calls made inside with the run id and count them (counter[0])."""
    counter = [0]
    token_c = _correlation.set(run_id)
    token_n = _call_counter.set(counter)
    try:
        yield counter
    finally:
        _correlation.reset(token_c)
        _call_counter.reset(token_n)


def run_of_call() -> str | None:
    """The run the calls made here are for (None outside `correlation`)."""
    return _correlation.get()


def counted() -> None:
    """One call sent for the current run (its counter, if any, goes up)."""
    counter = _call_counter.get()
    if counter is not None:
        counter[0] += 1


def check_fence() -> None:
    """Raise if a non-idempotent call may not be sent now (see `fenced`)."""
    fence = _fence.get()
    if fence is not None:
        fence()
