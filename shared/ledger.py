"""The run ledger: one row per publish run in Azure Table storage, the source of truth.

Every write after creation is conditional on the ETag the writer read, so two deliveries of one
message cannot both move a run: the loser gets LedgerConflict, re-reads and finds the work done.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableClient, TableServiceClient, UpdateMode

from shared.archive import Archive, Page, page, run_filter
from shared.offer_locks import OfferLocks
from shared.run_index import IndexRow, RunIndex, indexed_fields
from shared.runs import (
    PARTITION,
    Run,
    RunStatus,
    StageRecord,
    now_utc,
    parse_stamp,
    stamp,
)
from shared.tables import Recreating, capped, join_text, split_text

# The run model lives in shared.runs; these names stay importable from here.
__all__ = [
    "Ledger",
    "LedgerConflict",
    "Run",
    "RunStatus",
    "StageRecord",
    "now_utc",
    "parse_stamp",
    "stamp",
]

log = logging.getLogger(__name__)
TABLE_NAME = "pcruns"
DEAD_LETTERS = "dead-letter"
OFFERS = "offer"  # one row per offer id: the product id runs found for it
SUBMISSIONS = "submission"  # one row per submission pc-publisher created: its run


@dataclass(frozen=True)
class Sweep:
    due: list[Run]
    stalled: list[Run]
    lost: list[IndexRow]
    # Due rows the caller acts on from the index alone (see `unread`), in `pick`'s order.
    unread: list[IndexRow] = field(default_factory=list)


class LedgerConflict(Exception):
    """Someone else changed the run since it was read."""


class Ledger:
    """Run records in one table (PartitionKey 'run', RowKey = the request id)."""

    def __init__(self, service: TableServiceClient, table: str = TABLE_NAME) -> None:
        self._service = service
        self._table_name = table
        self._table: TableClient | None = None
        self._index_table: TableClient | None = None
        self.index = RunIndex(self.index_table)
        self.archive = Archive(service, table)
        self.locks = OfferLocks(self.table, self.get)

    def table(self) -> TableClient:
        if self._table is None:
            created = self._service.create_table_if_not_exists(self._table_name)
            self._table = Recreating(created, self._recreate)  # type: ignore[assignment]
        assert self._table is not None
        return self._table

    def index_table(self) -> TableClient:
        """The index of runs still going lives in a table of its own (`<table>active`), so
        its queries never touch the history, in Azure or in Azurite."""
        if self._index_table is None:
            name = f"{self._table_name}active"
            created = self._service.create_table_if_not_exists(name)
            self._index_table = Recreating(created, self._recreate_index)  # type: ignore[assignment]
        assert self._index_table is not None
        return self._index_table

    def _recreate_index(self) -> None:
        """The index table is gone: make it again and index the runs still going anew."""
        self._service.create_table_if_not_exists(f"{self._table_name}active")
        self.index.forget_built()

    def _recreate(self) -> None:
        """The table itself is gone (deleted by hand, a storage mishap): make it again, so
        new runs go on and lost ones are reported by their messages (runner)."""
        log.error(
            "ledger table %s is gone; recreating it",
            self._table_name,
            extra={"action": "ledger_table_recreated"},
        )
        for _ in range(30):  # a deleted table's name is refused for a while (409 TableBeingDeleted)
            try:
                self._service.create_table_if_not_exists(self._table_name)
                return
            except HttpResponseError as exc:
                if exc.status_code != 409:
                    raise
                time.sleep(1)

    def create(self, run: Run) -> bool:
        """Insert a new run; False when one with this id exists already (or was archived)."""
        if self.archive.get(run.run_id) is not None:
            return False
        self.index.put(run)  # first: the index may name a run that is not there, never miss one
        try:
            self.table().create_entity(run.to_entity())
        except ResourceExistsError:
            self._repair(run.run_id, failed=run.updated_at)
            return False
        return True

    def get(self, run_id: str) -> Run | None:
        """The run, from the hot table or else the archive (a run that ended long ago)."""
        try:
            run = Run.from_entity(self.table().get_entity(PARTITION, run_id))
        except ResourceNotFoundError:
            return self.archive.get(run_id)
        return run.evolve(indexed=indexed_fields(run))

    def archive_finished(self, before: datetime) -> int:
        """Move runs that ended before `before` to the archive (shared.archive); the query
        is read lazily, page by page, however many runs have piled up."""
        self.table()  # made if it is gone
        return self.archive.move(self._service.get_table_client(self._table_name), before)

    def page(
        self,
        *,
        status: str | None = None,
        offer: str | None = None,
        limit: int = 50,
        token: str | None = None,
        archived: bool = False,
    ) -> Page:
        """One page of runs (hot, or archived), filtered by the table service."""
        table = (
            self.archive.table() if archived else self._service.get_table_client(self._table_name)
        )
        return page(table, status=status, offer=offer, limit=limit, token=token)

    def replace(self, run: Run) -> Run:
        """Write `run` if the stored row still has `run.etag`; return it with the new ETag."""
        run = run.evolve(updated_at=stamp(now_utc()))
        indexed = indexed_fields(run)
        if run.indexed != indexed:
            self.index.put(run)
        try:
            meta = self.table().update_entity(
                run.to_entity(),
                mode=UpdateMode.REPLACE,
                etag=run.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError) as exc:
            self._repair(run.run_id, failed=run.updated_at)
            raise LedgerConflict(f"run {run.run_id} changed concurrently") from exc
        except HttpResponseError as exc:
            if exc.status_code == 412:
                self._repair(run.run_id, failed=run.updated_at)
                raise LedgerConflict(f"run {run.run_id} changed concurrently") from exc
            raise
        self.index.after_write(run)
        return run.evolve(etag=meta.get("etag"), indexed=indexed)

    def _repair(self, run_id: str, *, failed: str) -> None:
        """Our write of `run_id` failed: index what is stored."""
        self.index.repair(self.get(run_id), partial(self.get, run_id), failed=failed)

    def sweep(
        self,
        now: datetime,
        stalled_before: datetime,
        limit: int = 100,
        *,
        early: float = 0.0,
        with_due: bool = True,
        pick: Callable[[list[IndexRow]], list[IndexRow]] | None = None,
        unread: Callable[[IndexRow], bool] | None = None,
    ) -> Sweep:
        """What the poller acts on, read through the index of runs still going (the cost
        follows the work, not the history): waiting runs whose check is due (oldest first),
        running runs that have not moved since `stalled_before` (a lost or poisoned message),
        and runs whose own row is gone although the index still names them (the table was
        lost) for longer than the stall window. `early`: waiting runs due that many seconds
        from now are included (the caller decides which may go early); `with_due` False: none.
        `pick`: of the index rows due, those to read (the caller may act on only so many: with
        hundreds of runs waiting on a full budget, a tick reads no more of them than it can
        dispatch). `unread`: of those, the rows returned as they are, their runs not read
        (a status check validates its run itself, when it runs)."""
        at, before = stamp(now + timedelta(seconds=early)), stamp(stalled_before)
        due, lost, kept = (
            self._indexed(
                "status eq @s and next_check_at le @t and next_check_at ne ''",
                {"s": str(RunStatus.WAITING), "t": at},
                lambda r: (
                    r.status is RunStatus.WAITING
                    and bool(r.next_check_at)
                    and (r.next_check_at or "") <= at
                ),
                before,
                pick,
                unread,
            )
            if with_due
            else ([], [], [])
        )
        due.sort(key=lambda r: r.next_check_at or "")
        stalled, lost_running, _ = self._indexed(
            "status eq @s and updated_at le @t",
            {"s": str(RunStatus.RUNNING), "t": before},
            # A dead-lettered run waits for an operator (pcpub poison redrive), not the sweeper.
            lambda r: (
                r.status is RunStatus.RUNNING and r.updated_at <= before and not r.dead_letter
            ),
            before,
        )
        return Sweep(due[:limit], stalled[:limit], (lost + lost_running)[:limit], kept[:limit])

    def _indexed(
        self,
        flt: str,
        parameters: dict[str, str],
        still: Callable[[Run], bool],
        lost_before: str,
        pick: Callable[[list[IndexRow]], list[IndexRow]] | None = None,
        unread: Callable[[IndexRow], bool] | None = None,
    ) -> tuple[list[Run], list[IndexRow], list[IndexRow]]:
        """The runs the index names for `flt`, each checked against the run itself (a stale
        index row is repaired, never acted on), the rows whose run has been missing since
        before `lost_before` (a row just indexed may precede its run's first write), and the
        rows `unread` keeps as they are."""
        self.index.ensure_built(lambda: self.runs())
        rows = self.index.query(flt, parameters)
        rows = pick(rows) if pick is not None else rows
        kept: list[IndexRow] = []
        if unread is not None:
            kept, rows = [r for r in rows if unread(r)], [r for r in rows if not unread(r)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            runs = list(pool.map(self.get, [row.run_id for row in rows]))
        found, lost = [], []
        for row, run in zip(rows, runs, strict=True):
            if run is None:
                if row.updated_at and row.updated_at <= lost_before:
                    lost.append(row)
            elif still(run):
                found.append(run)
            else:
                self.index.repair(run, partial(self.get, run.run_id))
        return found, lost, kept

    def remember_product(self, offer_id: str, product_id: str) -> None:
        """Later runs of the offer skip the lookup (which may need the Product Ingestion API)."""
        self.table().upsert_entity(
            {"PartitionKey": OFFERS, "RowKey": offer_id, "product_id": product_id}
        )

    def remember_submission(self, product_id: str, submission_id: str, run_id: str) -> None:
        """So a later run of the offer knows a submission in its way is pc-publisher's."""
        self.table().upsert_entity(
            {
                "PartitionKey": SUBMISSIONS,
                "RowKey": f"{product_id}:{submission_id}",
                "run_id": run_id,
            }
        )

    def submission_owner(self, product_id: str, submission_id: str) -> tuple[str, bool] | None:
        try:
            row = self.table().get_entity(SUBMISSIONS, f"{product_id}:{submission_id}")
        except ResourceNotFoundError:
            return None
        run = self.get(str(row["run_id"]))
        return str(row["run_id"]), run is None or run.status.terminal

    def product_for(self, offer_id: str) -> str | None:
        try:
            return str(self.table().get_entity(OFFERS, offer_id)["product_id"])
        except ResourceNotFoundError:
            return None

    def record_dead_letter(self, message_id: str, fields: dict[str, Any]) -> None:
        """Upsert a dead letter; its raw `content` (up to a whole message) goes in parts."""
        row: dict[str, Any] = {k: capped(v) for k, v in fields.items() if k != "content"}
        row.update(split_text("content", str(fields.get("content") or "")))
        self.table().upsert_entity(
            {"PartitionKey": DEAD_LETTERS, "RowKey": message_id, **row}, mode=UpdateMode.REPLACE
        )

    def dead_letters(self) -> list[dict[str, Any]]:
        rows = self.table().query_entities("PartitionKey eq @p", parameters={"p": DEAD_LETTERS})
        letters = []
        for row in rows:
            raw = dict(row)
            content = join_text(raw, "content")
            letter = {k: v for k, v in raw.items() if not k.startswith("content")}
            letters.append({**letter, "content": content})
        return letters

    def runs(self, *, status: str | None = None, offer: str | None = None) -> Iterator[Run]:
        flt, params = run_filter(status, offer)
        for entity in self.table().query_entities(flt, parameters=params):
            yield Run.from_entity(entity)
