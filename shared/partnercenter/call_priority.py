"""How a call draws on the tenant's budget (shared.partnercenter.budget), by what it leads to.

Those that create a submission (its last branch reads and the create) first, then the rest that
lead up to one, so a run started goes on to its submission before another run's lookups take
the room (every certification starts as early as the budget allows, and a batch larger than the
window has whole runs certifying, not many halfway); then the rest of a run's work, then status
polls, and last the polls that can only find a run done (its live poll: one that finds a preview
ready leads to a promote, and goes first).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum


class Priority(IntEnum):
    SUBMIT = 0  # the calls that create a submission: a run started reaches its certification
    START = 1  # the calls before those (finding the offer): its certification starts sooner
    FINISH = 2  # the rest of a run's work (the default)
    POLL = 3  # status polls
    LAST = 4  # the poll that can only find its run done (live): after those that lead on

    @property
    def polls(self) -> bool:
        return self >= Priority.POLL


_priority = contextvars.ContextVar("pc_budget_priority", default=Priority.FINISH)


@contextmanager
def priority(level: Priority) -> Iterator[None]:
    """Calls made inside take from the budget at this priority."""
    token = _priority.set(level)
    try:
        yield
    finally:
        _priority.reset(token)


def current() -> Priority:
    """The priority calls made now take from the budget at."""
    return _priority.get()
