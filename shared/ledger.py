"""The run ledger: one row per publish run in Azure Table storage, the source of truth.

Every write after creation is conditional on the ETag the writer read, so two deliveries of one
message cannot both move a run: the loser gets LedgerConflict, re-reads and finds the work done.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import datetime
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
from shared.run_index import RunIndex, indexed_fields
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
        if archived:
            table = self.archive.table()
        else:
            table = self._service.get_table_client(self._table_name)
        return page(
            table, status=status, offer=offer, limit=limit, token=token, every_partition=archived
        )

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
