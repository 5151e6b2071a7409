"""What the functions share about bindings: the storage connection, and queue output bindings
for hand-offs to a stage (see shared.handoff for why hand-offs go through them)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import azure.functions as func

from shared import handoff
from shared.messages import Stage
from shared.queues import STAGE_QUEUES

CONNECTION = "AzureWebJobsStorage"
Handoff = func.Out[list[str]]


def _queue(target: Stage | str) -> str:
    return STAGE_QUEUES[target] if isinstance(target, Stage) else target


def to(bp: func.Blueprint, target: Stage | str, arg: str) -> Callable[[Any], Any]:
    """A queue output binding for hand-offs to a stage (or a queue by name), as `arg`."""
    return bp.queue_output(arg_name=arg, queue_name=_queue(target), connection=CONNECTION)


@contextmanager
def handing_off(outputs: Mapping[Stage | str, Handoff]) -> Iterator[None]:
    with handoff.through({_queue(s): out for s, out in outputs.items()}):
        yield
