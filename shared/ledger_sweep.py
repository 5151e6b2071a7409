"""What the poller acts on, read through the index of runs still going (shared.run_index), so
a tick's cost follows the work, not the history of finished runs."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from shared.ledger import Ledger
from shared.run_index import IndexRow
from shared.runs import Run, RunStatus, stamp


@dataclass(frozen=True)
class Sweep:
    due: list[Run]
    stalled: list[Run]
    lost: list[IndexRow]
    # Due rows the caller acts on from the index alone (see `unread`), in `pick`'s order.
    unread: list[IndexRow] = field(default_factory=list)


def sweep(
    ledger: Ledger,
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
        _indexed(
            ledger,
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
    stalled, lost_running, _ = _indexed(
        ledger,
        "status eq @s and updated_at le @t",
        {"s": str(RunStatus.RUNNING), "t": before},
        # A dead-lettered run waits for an operator (pcpub poison redrive), not the sweeper.
        lambda r: r.status is RunStatus.RUNNING and r.updated_at <= before and not r.dead_letter,
        before,
    )
    return Sweep(due[:limit], stalled[:limit], (lost + lost_running)[:limit], kept[:limit])


def _indexed(
    ledger: Ledger,
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
    ledger.index.ensure_built(lambda: ledger.runs())
    rows = ledger.index.query(flt, parameters)
    rows = pick(rows) if pick is not None else rows
    kept: list[IndexRow] = []
    if unread is not None:
        kept, rows = [r for r in rows if unread(r)], [r for r in rows if not unread(r)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        runs = list(pool.map(ledger.get, [row.run_id for row in rows]))
    found, lost = [], []
    for row, run in zip(rows, runs, strict=True):
        if run is None:
            if row.updated_at and row.updated_at <= lost_before:
                lost.append(row)
        elif still(run):
            found.append(run)
        else:
            ledger.index.repair(run, partial(ledger.get, run.run_id))
    return found, lost, kept
