"""Finished runs leave the hot table after a while, so its size follows the work in flight.

A run that ended more than `PC_ARCHIVE_AFTER_DAYS` ago is copied to the archive table
(`<table>archive`, the same rows, each in one of `BUCKETS` partitions named from its run id:
a read stays a point read, and no one partition takes every row of a growing history) and
then deleted from the runs partition, conditionally on the ETag read: a run touched meanwhile
(a re-drive, an operator) stays. A crash between the copy and the delete leaves the run in
both; the next sweep deletes the hot one. Reads that miss the hot table look in the archive,
so `pcpub status` still answers for an archived run, and intake still knows its request id
(a repeated request stays a duplicate).
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, TableServiceClient, UpdateMode

from shared.runs import PARTITION, Run, RunStatus, stamp

log = logging.getLogger(__name__)
FINISHED = [s for s in RunStatus if s.terminal]
BUCKETS = 32
EMPTY_PAGES = 8


def partition(run_id: str) -> str:
    """The archive partition of a run: from its id alone, so `get` needs nothing else."""
    return f"{PARTITION}-{zlib.crc32(run_id.encode()) % BUCKETS:02d}"


@dataclass(frozen=True)
class Page:
    runs: list[Run]
    next: str | None  # an opaque token for the next page, None at the end


class Archive:
    def __init__(self, service: TableServiceClient, table: str) -> None:
        self._service = service
        self.name = f"{table}archive"
        self._table: TableClient | None = None

    def table(self) -> TableClient:
        if self._table is None:
            self._table = self._service.create_table_if_not_exists(self.name)
        return self._table

    def get(self, run_id: str) -> Run | None:
        # Archives written before the buckets hold their runs in the runs partition.
        for where in (partition(run_id), PARTITION):
            with contextlib.suppress(ResourceNotFoundError):
                return Run.from_entity(self.table().get_entity(where, run_id))
        return None

    def move(self, hot: TableClient, before: datetime, limit: int = 10_000) -> int:
        """Move finished runs last changed before `before` from `hot` to the archive."""
        ended = " or ".join(f"status eq '{s}'" for s in FINISHED)
        rows = hot.query_entities(
            f"PartitionKey eq @p and updated_at le @t and ({ended})",
            parameters={"p": PARTITION, "t": stamp(before)},
        )
        moved = 0
        for row in rows:
            if moved >= limit:
                break
            copy = {**row, "PartitionKey": partition(row["RowKey"])}
            self.table().upsert_entity(copy, mode=UpdateMode.REPLACE)
            with contextlib.suppress(ResourceModifiedError, ResourceNotFoundError):
                hot.delete_entity(
                    PARTITION,
                    row["RowKey"],
                    etag=row.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
                moved += 1
        if moved:
            log.info("archived %d finished runs", moved, extra={"action": "runs_archived"})
        return moved


def page(
    table: TableClient,
    *,
    status: str | None = None,
    offer: str | None = None,
    limit: int = 50,
    token: str | None = None,
    every_partition: bool = False,
) -> Page:
    """One page of runs, filtered by the table service (not read whole and filtered here):
    from the runs partition, or from a table that holds nothing but runs (the archive)."""
    flt, params = run_filter(status, offer, every_partition)
    pages = (
        table.query_entities(flt, parameters=params, results_per_page=limit)
        if flt
        else table.list_entities(results_per_page=limit)
    ).by_page(continuation_token=_decode(token))
    runs: list[Run] = []
    # A filtered query may answer an empty page with a continuation (the service stops at a
    # partition's end, or after a few seconds of scanning): read on, a bounded number of times.
    for _ in range(EMPTY_PAGES):
        try:
            runs = [Run.from_entity(e) for e in next(pages)]
        except (StopIteration, HttpResponseError):
            return Page([], None)
        after = pages.continuation_token  # type: ignore[attr-defined]
        if runs or not after:
            break
    return Page(runs, _encode(after) if after else None)


def run_filter(
    status: str | None, offer: str | None, every_partition: bool = False
) -> tuple[str, dict[str, str]]:
    """The table query for runs, by status and offer (parameters, never spliced text)."""
    clauses, params = ([], {}) if every_partition else (["PartitionKey eq @p"], {"p": PARTITION})
    if status:
        clauses.append("status eq @s")
        params["s"] = status
    if offer:
        clauses.append("offer eq @o")
        params["o"] = offer
    return " and ".join(clauses), params


def _encode(token: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(token).encode()).decode()


def _decode(token: str | None) -> Any:
    if not token:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))
    except ValueError as exc:
        raise ValueError("not a page token from `pcpub runs`") from exc
