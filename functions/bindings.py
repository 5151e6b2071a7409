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


def to(bp: func.Blueprint, stage: Stage, arg: str) -> Callable[[Any], Any]:
    """A queue output binding for hand-offs to `stage`, as parameter `arg`."""
    return bp.queue_output(arg_name=arg, queue_name=STAGE_QUEUES[stage], connection=CONNECTION)


@contextmanager
def handing_off(outputs: Mapping[Stage, Handoff]) -> Iterator[None]:
    with handoff.through({STAGE_QUEUES[s]: out for s, out in outputs.items()}):
        yield
