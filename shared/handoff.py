"""Hand-offs through the function's queue output bindings, so the next stage starts at once.

An idle queue is polled at the host's back-off (up to `maxPollingInterval`); a message sent
with the storage SDK waits for that poll. A message written through a queue *output binding*
is also announced by the Functions host to its own listener of that queue (the host's shared
queue watcher), which polls at once. So a stage's immediate hand-off to a queue its function
declares as an output goes out through the binding; a delayed send, or a queue the function
did not declare, goes through the SDK as before.

The binding sends after the function returns, and only when it returns normally: a delivery
that fails after recording its hand-off sends nothing, and the redelivery re-sends the
hand-off from the ledger (runner._resend_if_lost), as after a crash.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Protocol


class Output(Protocol):
    """A queue output binding (a function's `Out` parameter): the messages it sends on return."""

    def set(self, val: list[str]) -> None: ...


_OUTPUTS: contextvars.ContextVar[dict[str, list[str]] | None] = contextvars.ContextVar(
    "pc_handoff_outputs", default=None
)


@contextmanager
def through(outputs: Mapping[str, Output]) -> Iterator[None]:
    """While a function runs: immediate sends to these queues (name -> its output binding)
    are collected, then set on the bindings once the function's work returned normally."""
    collected: dict[str, list[str]] = {name: [] for name in outputs}
    token = _OUTPUTS.set(collected)
    try:
        yield
    finally:
        _OUTPUTS.reset(token)
    for name, messages in collected.items():  # not reached when the work raised
        if messages:
            outputs[name].set(messages)


def offer(queue: str, body: str) -> bool:
    """Take `body` for `queue`'s output binding, if the running function has one."""
    collected = _OUTPUTS.get()
    if collected is None or queue not in collected:
        return False
    collected[queue].append(body)
    return True
