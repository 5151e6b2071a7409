"""Each offer's turn: one run at a time changes an offer (its product), as Partner Center
allows one submission in flight. A row per product in the ledger table (partition
`offer-lock`) names the run holding the turn; a turn left by a finished run is taken over."""

from __future__ import annotations

from collections.abc import Callable

from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableClient, UpdateMode

from shared.runs import Run
from shared.wording import one_line

LOCKS = "offer-lock"
REASON = 200  # of the holder's reason, in the reason of a run waiting for its turn


class OfferLocks:
    def __init__(self, table: Callable[[], TableClient], get: Callable[[str], Run | None]) -> None:
        self.table = table
        self._get = get

    def acquire(self, product_id: str, run_id: str) -> str | None:
        """Take the offer's turn for `run_id`; when another live run holds it, return that run
        and what it is doing (for the reason of the run that waits). A lock left by a finished
        run is taken over."""
        table = self.table()
        for _ in range(3):
            try:
                table.create_entity({"PartitionKey": LOCKS, "RowKey": product_id, "run_id": run_id})
                return None
            except ResourceExistsError:
                pass
            try:
                lock = table.get_entity(LOCKS, product_id)
            except ResourceNotFoundError:
                continue
            holder = str(lock["run_id"])
            if holder == run_id:
                return None
            held = self._get(holder)
            if held is not None and not held.status.terminal:
                return holding(held)
            try:
                table.update_entity(
                    {"PartitionKey": LOCKS, "RowKey": product_id, "run_id": run_id},
                    mode=UpdateMode.REPLACE,
                    etag=lock.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
                return None
            except (ResourceModifiedError, ResourceNotFoundError, HttpResponseError):
                continue
        return "another run"

    def release(self, product_id: str, run_id: str) -> bool:
        """Give the turn back if `run_id` holds it; whether it did."""
        table = self.table()
        try:
            lock = table.get_entity(LOCKS, product_id)
        except ResourceNotFoundError:
            return False
        if lock["run_id"] != run_id:
            return False
        try:
            table.delete_entity(
                LOCKS,
                product_id,
                etag=lock.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError, HttpResponseError):
            return False  # taken over meanwhile: then it was not ours to release
        return True


def holding(run: Run) -> str:
    """The run that holds a turn and what it is doing (its own reason, bounded): a run kept
    waiting says by what, an approval not given, say, or a submission certifying."""
    doing = f"{run.status} at {run.stage}"
    if run.reason:
        doing += f": {one_line(run.reason)[:REASON]}"
    return f"{run.run_id} ({doing})"
