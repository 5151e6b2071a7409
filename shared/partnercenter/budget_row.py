"""The tenant budget's one shared row (partition `control`, row `budget` of the ledger table):
read with its ETag, written only if unchanged since, so instances that race on it never lose
each other's calls (shared.partnercenter.budget).

An instance that is alone on the row (its last read found the row as it had written it) starts
its next talk from its own last write rather than a read: one request a talk instead of two,
and every caller waiting for that talk waits half as long. The write is still conditional on
the ETag of that write, so when another instance wrote meanwhile it fails, and the talk reads
the row after all (and the instance is no longer taken to be alone).

The paced wave (`Window.wave`, `wave_granted`) is kept in a column of its own beside `data`:
an instance of an older version reads `data` as before (a field it does not know would make it
start the window afresh), and its write drops the column, which only lets one wave more out."""

from __future__ import annotations

import contextlib
import json
import threading
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
        self._lock = threading.Lock()
        self._written: tuple[str, str] | None = None  # this instance's last write: ETag, data
        self._alone = False  # the last read found the row as this instance had written it

    def read(self) -> tuple[Window, str | None]:
        """The window as stored (a fresh one at the ceiling when there is none), and its ETag."""
        try:
            row = self._ledger.table().get_entity(CONTROL, ROW)
        except ResourceNotFoundError:
            self._seen(None)
            return Window(rate=self._ceiling), None
        etag = row.metadata.get("etag")
        self._seen(etag)
        try:
            return _with_wave(Window(**json.loads(row["data"])), row.get("wave")), etag
        except (TypeError, ValueError):  # a row of another shape: start afresh over it
            return Window(rate=self._ceiling), etag

    def _seen(self, etag: str | None) -> None:
        with self._lock:
            self._alone = self._written is not None and etag == self._written[0]

    def written(self) -> tuple[Window, str] | None:
        """The row as this instance last wrote it, while it is alone on the row (a copy)."""
        with self._lock:
            if not self._alone or self._written is None:
                return None
            etag, data = self._written
        return Window(**json.loads(data)), etag

    def write(self, window: Window, etag: str | None) -> bool:
        """Store `window` if the row is as read (`etag`; None: there was none); False when
        another instance wrote first."""
        stored = asdict(window)
        data = json.dumps(stored)  # this instance's copy: all of it
        wave = f"{stored.pop('wave')}:{stored.pop('wave_granted')}"
        entity = {"PartitionKey": CONTROL, "RowKey": ROW, "data": json.dumps(stored), "wave": wave}
        try:
            if etag is None:
                meta = self._ledger.table().create_entity(entity)
            else:
                meta = self._ledger.table().update_entity(
                    entity,
                    mode=UpdateMode.REPLACE,
                    etag=etag,
                    match_condition=MatchConditions.IfNotModified,
                )
        except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
            return self._lost()
        except HttpResponseError as exc:
            if exc.status_code == 412:
                return self._lost()
            raise
        new = meta.get("etag") if isinstance(meta, dict) else None
        with self._lock:
            self._written = (str(new), data) if new else None
            self._alone = self._alone and new is not None
        return True

    def _lost(self) -> bool:
        """Another instance wrote first: this one is not alone on the row."""
        with self._lock:
            self._alone = False
        return False


def _with_wave(window: Window, wave: object) -> Window:
    """The window with its paced wave from the row's `wave` column ("wave:granted"), when the
    row has a well-formed one."""
    if isinstance(wave, str):
        at, _, granted = wave.partition(":")
        with contextlib.suppress(ValueError):
            window.wave, window.wave_granted = int(at), int(granted)
    return window
