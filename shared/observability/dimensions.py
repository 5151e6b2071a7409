"""Flat log dimensions: every record logged while a run is worked on carries the run's ids.

Alerts and queries filter on these names (infra/app/monitoring.bicep, the workbook), so they
are one list here; a record's own `extra` wins over the context's value.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.runs import Run

DIMENSIONS = (
    "requestId",
    "releaseId",
    "offer",
    "productId",
    "stage",
    "outcome",
    "submissionId",
    "pcRequestId",
    "attempt",
)
_NONE: Mapping[str, str | int] = MappingProxyType({})
_current: ContextVar[Mapping[str, str | int]] = ContextVar("log_dimensions", default=_NONE)


@contextmanager
def dimensions(**values: str | int | None) -> Iterator[None]:
    """Add dimensions (None and empty values are left out) for the records logged inside."""
    unknown = set(values) - set(DIMENSIONS)
    if unknown:
        raise ValueError(f"not a log dimension: {sorted(unknown)}")
    given = {k: v for k, v in values.items() if v is not None and v != ""}
    merged: dict[str, str | int] = {**_current.get(), **given}
    token = _current.set(merged)
    try:
        yield
    finally:
        _current.reset(token)


def of_run(run: Run) -> dict[str, str | None]:
    """The dimensions a run's record gives."""
    return {
        "requestId": run.run_id,
        "releaseId": run.release_id or None,
        "offer": run.offer or None,
        "productId": run.product_id,
        "submissionId": run.submission_id,
    }


def current() -> Mapping[str, str | int]:
    return _current.get()


class DimensionFilter(logging.Filter):
    """Puts the context's dimensions on each record that passes a handler (never drops one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _current.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True
