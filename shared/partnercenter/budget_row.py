"""The tenant budget's one shared row (partition `control`, row `budget` of the ledger table):
read with its ETag, written only if unchanged since, so instances that race on it never lose
each other's calls (shared.partnercenter.budget)."""

from __future__ import annotations

import json
from dataclasses import asdict

from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import UpdateMode

from shared.ledger import Ledger
from shared.partnercenter.budget_window import Window

CONTROL, ROW = "control", "budget"


class BudgetRow:
    def __init__(self, ledger: Ledger, ceiling: float) -> None:
        self._ledger = ledger
        self._ceiling = ceiling

    def read(self) -> tuple[Window, str | None]:
        """The window as stored (a fresh one at the ceiling when there is none), and its ETag."""
        try:
            row = self._ledger.table().get_entity(CONTROL, ROW)
        except ResourceNotFoundError:
            return Window(rate=self._ceiling), None
        try:
            return Window(**json.loads(row["data"])), row.metadata.get("etag")
        except (TypeError, ValueError):  # a row of another shape: start afresh over it
            return Window(rate=self._ceiling), row.metadata.get("etag")

    def write(self, window: Window, etag: str | None) -> bool:
        """Store `window` if the row is as read (`etag`; None: there was none); False when
        another instance wrote first."""
        entity = {"PartitionKey": CONTROL, "RowKey": ROW, "data": json.dumps(asdict(window))}
        try:
            if etag is None:
                self._ledger.table().create_entity(entity)
            else:
                self._ledger.table().update_entity(
                    entity,
                    mode=UpdateMode.REPLACE,
                    etag=etag,
                    match_condition=MatchConditions.IfNotModified,
                )
        except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
            return False
        except HttpResponseError as exc:
            if exc.status_code == 412:
                return False
            raise
        return True
