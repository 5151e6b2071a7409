"""The run ledger: one row per publish run in Azure Table storage, the source of truth.

Every write after creation is conditional on the ETag the writer read, so two deliveries of one
message cannot both move a run: the loser gets LedgerConflict, re-reads and finds the work done.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableClient, TableServiceClient, UpdateMode

TABLE_NAME = "pcruns"
PARTITION = "run"


class RunStatus(StrEnum):
    RUNNING = "running"  # a stage message is on its way
    WAITING = "waiting"  # the poller checks Partner Center at next_check_at
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REJECTED = "rejected"  # the request was invalid; nothing was called

    @property
    def terminal(self) -> bool:
        return self in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.REJECTED)


def now_utc() -> datetime:
    return datetime.now(UTC)


def stamp(when: datetime) -> str:
    """Fixed-width UTC text, so string comparison in table queries is time order."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(kw_only=True)
class StageRecord:
    stage: str
    started: str
    ended: str | None = None
    calls: int = 0
    result: str | None = None


@dataclass(kw_only=True)
class Run:
    run_id: str
    status: RunStatus
    stage: str
    target: str = ""
    offer: str = ""
    offer_external_id: str | None = None
    product_id: str | None = None
    submission_id: str | None = None
    baseline_submission_id: str | None = None
    pc_status: str | None = None
    reason: str | None = None
    requested_by: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    created_at: str = ""
    updated_at: str = ""
    next_check_at: str | None = None
    timeline: list[StageRecord] = field(default_factory=list)
    etag: str | None = None

    def evolve(self, **changes: Any) -> Run:
        return replace(self, **changes)

    def to_entity(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("etag")
        data["timeline"] = json.dumps(data["timeline"])
        data["labels"] = json.dumps(data["labels"])
        data["status"] = str(self.status)
        entity = {k: v for k, v in data.items() if v is not None}
        entity["PartitionKey"] = PARTITION
        entity["RowKey"] = self.run_id
        return entity

    @classmethod
    def from_entity(cls, entity: Any) -> Run:
        names = set(cls.__dataclass_fields__)
        data = {k: v for k, v in dict(entity).items() if k in names}
        data["status"] = RunStatus(data["status"])
        data["timeline"] = [StageRecord(**s) for s in json.loads(data.get("timeline") or "[]")]
        data["labels"] = json.loads(data.get("labels") or "{}")
        data["etag"] = entity.metadata.get("etag")
        return cls(**data)


class LedgerConflict(Exception):
    """Someone else changed the run since it was read."""


class Ledger:
    """Run records in one table (PartitionKey 'run', RowKey = the request id)."""

    def __init__(self, service: TableServiceClient, table: str = TABLE_NAME) -> None:
        self._service = service
        self._table_name = table
        self._table: TableClient | None = None

    def table(self) -> TableClient:
        if self._table is None:
            self._table = self._service.create_table_if_not_exists(self._table_name)
        return self._table

    def create(self, run: Run) -> bool:
        """Insert a new run; False when one with this id exists already."""
        try:
            self.table().create_entity(run.to_entity())
        except ResourceExistsError:
            return False
        return True

    def get(self, run_id: str) -> Run | None:
        try:
            return Run.from_entity(self.table().get_entity(PARTITION, run_id))
        except ResourceNotFoundError:
            return None

    def replace(self, run: Run) -> Run:
        """Write `run` if the stored row still has `run.etag`; return it with the new ETag."""
        run = run.evolve(updated_at=stamp(now_utc()))
        try:
            meta = self.table().update_entity(
                run.to_entity(),
                mode=UpdateMode.REPLACE,
                etag=run.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError) as exc:
            raise LedgerConflict(f"run {run.run_id} changed concurrently") from exc
        except HttpResponseError as exc:
            if exc.status_code == 412:
                raise LedgerConflict(f"run {run.run_id} changed concurrently") from exc
            raise
        return run.evolve(etag=meta.get("etag"))

    def due(self, now: datetime, limit: int = 100) -> list[Run]:
        """Waiting runs whose next check is due, oldest first."""
        flt = "PartitionKey eq @p and status eq @s and next_check_at le @t"
        rows = self.table().query_entities(
            flt, parameters={"p": PARTITION, "s": str(RunStatus.WAITING), "t": stamp(now)}
        )
        runs = [Run.from_entity(e) for e in rows]
        runs.sort(key=lambda r: r.next_check_at or "")
        return runs[:limit]

    def runs(self, *, status: str | None = None, offer: str | None = None) -> Iterator[Run]:
        flt, params = "PartitionKey eq @p", {"p": PARTITION}
        if status:
            flt += " and status eq @s"
            params["s"] = status
        if offer:
            flt += " and offer eq @o"
            params["o"] = offer
        for entity in self.table().query_entities(flt, parameters=params):
            yield Run.from_entity(entity)
