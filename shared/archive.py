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
import re
import threading
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, TableEntity, TableServiceClient, UpdateMode

from shared.request_base import GUID_PATTERN
from shared.runs import PARTITION, Run, RunStatus, stamp

log = logging.getLogger(__name__)
FINISHED = [s for s in RunStatus if s.terminal]
BUCKETS = 32
EMPTY_PAGES = 8
LEGACY_LOOK_SECONDS = 600.0


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
        self._legacy: tuple[float, bool] | None = None  # (when looked, any rows there)
        self._looking = threading.Lock()  # one look at a time: a burst's misses share it

    def table(self) -> TableClient:
        if self._table is None:
            self._table = self._service.create_table_if_not_exists(self.name)
        return self._table

    def get(self, run_id: str) -> Run | None:
        with contextlib.suppress(ResourceNotFoundError):
            return Run.from_entity(self.table().get_entity(partition(run_id), run_id))
        if self._has_legacy():
            with contextlib.suppress(ResourceNotFoundError):
                return Run.from_entity(self.table().get_entity(PARTITION, run_id))
        return None

    def move(self, hot: TableClient, before: datetime, limit: int = 10_000) -> int:
        """Move finished runs last changed before `before` from `hot` to the archive, and runs
        archived before the archive had partitions to theirs. Returns how many left `hot`."""
        ended = " or ".join(f"status eq '{s}'" for s in FINISHED)
        rows = hot.query_entities(
            f"PartitionKey eq @p and updated_at le @t and ({ended})",
            parameters={"p": PARTITION, "t": stamp(before)},
        )
        moved = self._relocate(hot, rows, limit)
        if moved:
            log.info("archived %d finished runs", moved, extra={"action": "runs_archived"})
        old = self.table().query_entities("PartitionKey eq @p", parameters={"p": PARTITION})
        spread = self._relocate(self.table(), old, limit)
        if spread:
            log.info("spread %d archived runs", spread, extra={"action": "archive_spread"})
        self._legacy = (time.monotonic(), spread >= limit)  # below the limit: none are left
        return moved

    def _relocate(self, source: TableClient, rows: Iterable[TableEntity], limit: int) -> int:
        """Copy each row to its archive partition, then delete it from `source` if it is
        unchanged since read (a run touched meanwhile stays, and is copied again next time)."""
        moved = 0
        for row in rows:
            if moved >= limit:
                break
            copy = {**row, "PartitionKey": partition(row["RowKey"])}
            self.table().upsert_entity(copy, mode=UpdateMode.REPLACE)
            with contextlib.suppress(ResourceModifiedError, ResourceNotFoundError):
                source.delete_entity(
                    PARTITION,
                    row["RowKey"],
                    etag=row.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
                moved += 1
        return moved

    def _has_legacy(self) -> bool:
        """Whether runs archived before the partitions are still in the runs partition:
        looked up once in a while, not on every miss (none are written there any more, and
        the archiver moves them out), and by one caller while the others wait for its answer
        (a batch's first intakes all miss at once)."""
        with self._looking:
            now = time.monotonic()
            if self._legacy is None or now - self._legacy[0] >= LEGACY_LOOK_SECONDS:
                rows = self.table().query_entities(
                    "PartitionKey eq @p", parameters={"p": PARTITION}, select=["RowKey"]
                )
                self._legacy = (now, any(True for _ in islice(rows, 1)))
            return self._legacy[1]


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
    """The table query for runs, by status and offer (parameters, never spliced text). An
    offer is its offer id or its product GUID: every run of it matches, whichever of the two
    its request named (a run records both once resolved)."""
    clauses, params = ([], {}) if every_partition else (["PartitionKey eq @p"], {"p": PARTITION})
    if status:
        clauses.append("status eq @s")
        params["s"] = status
    if offer:
        kind, column = (
            ("product", "product_id")
            if re.fullmatch(GUID_PATTERN, offer)
            else ("offer", "offer_external_id")
        )
        clauses.append(f"( offer eq @named or {column} eq @o )")  # the SDK splits on spaces
        params |= {"named": f"{kind}:{offer}", "o": offer}
    return " and ".join(clauses), params


def _encode(token: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(token).encode()).decode()


def _decode(token: str | None) -> Any:
    if not token:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, RecursionError) as exc:  # nested past the parser's depth: not ours
        raise ValueError("not a page token from `pcpub runs`") from exc
