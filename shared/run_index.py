"""The ledger's index of runs still going, so finding due and stalled runs reads only them.

A table query on a non-key property scans the whole partition: with the runs partition
holding every run ever made, the poller's tick would grow with history. The index is a
table of its own (`pcrunsactive`; rows in partition `active`): one small row per run that has
not ended (its status, next check and last update), kept with each write of the run. The
poller queries it, then reads the runs it names, except those it only hands to a status
check: that check reads its run, and mends a row that said otherwise.

Kept safe without transactions across rows: the index row is written *before* the run (so it
is never missing for a run that needs it; a failed run write leaves a stale row, repaired from
the run itself) and deleted *after* a run ends. Readers check every hit against the run and
drop rows that no longer match, so a stale row costs one read, never a wrong decision.
A row that outlives its run by more than the stall window means the run's own row was lost
(the table deleted or restored): it names the run's offer, product and stage, so the poller
can report that run even when no message of it is in flight (a run parked in a poll wait).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.runs import PARTITION, Run, now_utc, stamp

log = logging.getLogger(__name__)
ACTIVE = "active"
BUILT = "index-built"  # a marker row: the index was built from the runs partition once
# A row written this recently for a later state than its run's is a write still under way.
IN_FLIGHT = timedelta(seconds=60)


@dataclass(frozen=True)
class IndexRow:
    """What the index knows of a run: enough to name it when its own row is gone."""

    run_id: str
    stage: str
    offer: str
    product_id: str | None
    submission_id: str | None
    updated_at: str
    next_check_at: str = ""
    trace: str | None = None  # the run's traceparent, for a message sent from the row
    check_sent: str = ""  # the write that set next_check_at sent its check (shared.pipeline.sends)


class RunIndex:
    def __init__(self, table: Callable[[], TableClient]) -> None:
        self._table = table
        self._built = False

    def put(self, run: Run) -> None:
        """Before writing `run`: its index row as the write will leave it (or none, ended)."""
        if run.status.terminal:
            return  # dropped after the write
        self._table().upsert_entity(_entity(run), mode=UpdateMode.REPLACE)

    def drop(self, run_id: str) -> None:
        with contextlib.suppress(ResourceNotFoundError, HttpResponseError):
            self._table().delete_entity(ACTIVE, run_id)

    def after_write(self, run: Run) -> None:
        if run.status.terminal:
            self.drop(run.run_id)

    def repair(
        self,
        run: Run | None,
        reread: Callable[[], Run | None],
        *,
        failed: str | None = None,
    ) -> None:
        """After a lost race, or a row found not to match: index what is stored, not what we
        failed to write. Never backwards: a row written for a later state than `run` (its
        writer's run write is on its way) is left alone, unless it is old enough that the
        write must have died; and the row is replaced only if unchanged since read. A run
        whose row is gone keeps its index row: that row is how the sweep reports it.

        A row that is gone was dropped after the write that ended its run, or lost: it is made
        anew only from the run as `reread` finds it now, since `run` may have been read before
        that ending (then a finished run stayed listed as going until the stall sweep).
        `failed`: the update time of our own write that just failed, whose row is wrong."""
        if run is None:
            return
        try:
            if run.status.terminal:
                self.drop(run.run_id)
                return
            try:
                row = self._table().get_entity(ACTIVE, run.run_id)
            except ResourceNotFoundError:
                now = reread()
                if now is not None and not now.status.terminal:
                    with contextlib.suppress(ResourceExistsError):  # a writer got there first
                        self._table().create_entity(_entity(now))
                return
            ahead = str(row.get("updated_at") or "")
            if ahead > run.updated_at and ahead != failed and ahead > stamp(now_utc() - IN_FLIGHT):
                return
            if _matches(row, run):  # it already says what the run says: nothing to write
                return
            self._table().update_entity(
                _entity(run),
                mode=UpdateMode.REPLACE,
                etag=row.metadata.get("etag"),
                match_condition=MatchConditions.IfNotModified,
            )
        except HttpResponseError:  # changed meanwhile (412), or unreachable: left as it is
            log.warning("could not repair the index row of %s", run.run_id)

    def get(self, run_id: str) -> IndexRow | None:
        try:
            return _row(self._table().get_entity(ACTIVE, run_id))
        except (ResourceNotFoundError, HttpResponseError):
            return None

    def query(self, flt: str, parameters: dict[str, str]) -> list[IndexRow]:
        """The index rows that match `flt` (over the index partition only)."""
        rows = self._table().query_entities(
            f"PartitionKey eq @ip and {flt}",
            parameters={"ip": ACTIVE, **parameters},
            select=[
                "RowKey",
                "stage",
                "offer",
                "product_id",
                "submission_id",
                "updated_at",
                "next_check_at",
                "trace",
                "check_sent",
            ],
        )
        return [_row(r) for r in rows]

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


def indexed_fields(run: Run) -> tuple[object, ...]:
    """What the index row holds of `run`, less the time of its last update: a write that
    changes none of it leaves the row alone (a stale time costs the sweep one read, never a
    decision)."""
    return tuple(v for k, v in _entity(run).items() if k != "updated_at")


def _matches(row: dict[str, object], run: Run) -> bool:
    """The stored row holds what `run` would write (its update time aside)."""
    return all(row.get(k) == v for k, v in _entity(run).items() if k != "updated_at")


def _entity(run: Run) -> dict[str, object]:
    return {
        "PartitionKey": ACTIVE,
        "RowKey": run.run_id,
        "status": str(run.status),
        "stage": run.stage,
        "offer": run.offer,
        "product_id": run.product_id or "",
        "submission_id": run.submission_id or "",
        "next_check_at": run.next_check_at or "",
        "check_sent": run.check_sent or "",
        "updated_at": run.updated_at,
        "dead_letter": bool(run.dead_letter),
        "trace": run.trace or "",
    }


def _row(entity: dict[str, object]) -> IndexRow:
    return IndexRow(
        run_id=str(entity["RowKey"]),
        stage=str(entity.get("stage") or ""),
        offer=str(entity.get("offer") or ""),
        product_id=str(entity.get("product_id") or "") or None,
        submission_id=str(entity.get("submission_id") or "") or None,
        updated_at=str(entity.get("updated_at") or ""),
        next_check_at=str(entity.get("next_check_at") or ""),
        trace=str(entity.get("trace") or "") or None,
        check_sent=str(entity.get("check_sent") or ""),
    )


__all__ = ["ACTIVE", "PARTITION", "IndexRow", "RunIndex", "indexed_fields"]
