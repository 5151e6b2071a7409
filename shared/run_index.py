"""The ledger's index of runs still going, so finding due and stalled runs reads only them.

A table query on a non-key property scans the whole partition: with the runs partition
holding every run ever made, the poller's tick would grow with history. The index is a
table of its own (`pcrunsactive`; rows in partition `active`): one small row per run that has
not ended (its status, next check and last update), kept with each write of the run. The
poller queries it, then reads the runs it names.

Kept safe without transactions across rows: the index row is written *before* the run (so it
is never missing for a run that needs it; a failed run write leaves a stale row, repaired from
the run itself) and deleted *after* a run ends. Readers check every hit against the run and
drop rows that no longer match, so a stale row costs one read, never a wrong decision.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.runs import PARTITION, Run

log = logging.getLogger(__name__)
ACTIVE = "active"
BUILT = "index-built"  # a marker row: the index was built from the runs partition once


class RunIndex:
    def __init__(self, table: Callable[[], TableClient]) -> None:
        self._table = table
        self._built = False

    def put(self, run: Run) -> None:
        """Before writing `run`: its index row as the write will leave it (or none, ended)."""
        if run.status.terminal:
            return  # dropped after the write
        self._table().upsert_entity(
            {
                "PartitionKey": ACTIVE,
                "RowKey": run.run_id,
                "status": str(run.status),
                "next_check_at": run.next_check_at or "",
                "updated_at": run.updated_at,
                "dead_letter": bool(run.dead_letter),
            },
            mode=UpdateMode.REPLACE,
        )

    def drop(self, run_id: str) -> None:
        with contextlib.suppress(ResourceNotFoundError, HttpResponseError):
            self._table().delete_entity(ACTIVE, run_id)

    def after_write(self, run: Run) -> None:
        if run.status.terminal:
            self.drop(run.run_id)

    def repair(self, run: Run | None, run_id: str) -> None:
        """After a lost race: index what is stored, not what we failed to write."""
        try:
            if run is None or run.status.terminal:
                self.drop(run_id)
            else:
                self.put(run)
        except HttpResponseError:
            log.warning("could not repair the index row of %s", run_id)

    def query(self, flt: str, parameters: dict[str, str]) -> list[str]:
        """Run ids whose index rows match `flt` (over the index partition only)."""
        rows = self._table().query_entities(
            f"PartitionKey eq @ip and {flt}",
            parameters={"ip": ACTIVE, **parameters},
            select=["RowKey"],
        )
        return [str(r["RowKey"]) for r in rows]

    def forget_built(self) -> None:
        self._built = False

    def ensure_built(self, all_runs: Callable[[], Iterable[Run]]) -> None:
        """Once per table: index the runs that were written before the index existed."""
        if self._built:
            return
        table = self._table()
        try:
            table.get_entity(ACTIVE, BUILT)
        except ResourceNotFoundError:
            count = 0
            for run in all_runs():
                if not run.status.terminal:
                    self.put(run)
                    count += 1
            table.upsert_entity({"PartitionKey": ACTIVE, "RowKey": BUILT, "status": "marker"})
            log.info("indexed %d runs still going", count, extra={"action": "index_built"})
        self._built = True


__all__ = ["ACTIVE", "PARTITION", "RunIndex"]
