"""The poller's tick against history: the time to find due, stalled and lost runs with no
finished runs in the ledger, and with 100,000 of them (the cost should follow the work, not
the history: target within 10%). The poller reads the index of runs still going and then
those runs by key; finished runs live in the archive once PC_ARCHIVE_AFTER_DAYS have passed.
Also measured: 20,000 finished runs still in the hot table. Azure Table storage reads a row by
key at the same cost whatever the table holds; Azurite's point reads grow with the table
(1.6 ms to 2.8 ms at 20,000 rows, measured), which that figure shows. Runs on two Azurites side
by side, one holding no history, ticked in turn. Writes bench/results/poller_tick.json.

    python -m bench.poller_tick [--history 100000] [--waiting 50]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from azure.data.tables import TableServiceClient

from pcpub.azurite import start_azurite
from shared.archive import partition
from shared.ledger import Ledger, Run, RunStatus, StageRecord, now_utc, stamp
from shared.ledger_sweep import sweep
from shared.messages import Stage

ROOT = Path(__file__).resolve().parents[1]


def _run(run_id: str, status: RunStatus, next_check: str | None) -> Run:
    at = stamp(now_utc() - timedelta(hours=1))
    return Run(
        run_id=run_id,
        status=status,
        stage=Stage.AWAIT_PREVIEW if status is RunStatus.WAITING else Stage.COMPLETE,
        offer=f"offer:{run_id}",
        created_at=at,
        updated_at=at,
        next_check_at=next_check,
        timeline=[StageRecord(stage=Stage.RESOLVE, started=at, ended=at, result="ok")],
    )


def _ticks(empty: Ledger, loaded: Ledger, reps: int = 15) -> tuple[float, float]:
    """The tick's median time on each ledger, the two taken in turn: the machine's speed
    drifts over the minutes the history takes to load, and ticks minutes apart measured that
    drift (a ratio of 1.61 one run, 0.94 the next), not the history."""
    times: dict[int, list[float]] = {0: [], 1: []}
    for _ in range(reps):
        for side, ledger in enumerate((empty, loaded)):
            started = time.perf_counter()
            sweep(ledger, now_utc(), now_utc() - timedelta(minutes=15), limit=200)
            times[side].append(time.perf_counter() - started)
    return statistics.median(times[0]), statistics.median(times[1])


def _load(table: Any, count: int, prefix: str, where: Callable[[str], str] | None = None) -> float:
    """`count` finished runs, written as the ledger writes them (`where`: the partition a run
    goes to, as the archive puts it; by default the runs partition), 100 to a transaction."""
    started = time.perf_counter()
    rows: dict[str, list[dict[str, Any]]] = {}
    for j in range(count):
        row = _run(f"{prefix}-{j:06d}", RunStatus.SUCCEEDED, None).to_entity()
        if where is not None:
            row["PartitionKey"] = where(row["RowKey"])
        rows.setdefault(row["PartitionKey"], []).append(row)
    for group in rows.values():
        for first in range(0, len(group), 100):
            table.submit_transaction([("upsert", r) for r in group[first : first + 100]])
    return time.perf_counter() - started


def run(history: int, waiting: int, hot_history: int = 20_000) -> dict[str, Any]:
    """The tick with no history; with `history` finished runs archived (where runs older
    than PC_ARCHIVE_AFTER_DAYS are); and with `hot_history` finished runs still in the hot
    table (younger than that), which in Azurite slows every point read of that table."""
    with tempfile.TemporaryDirectory() as work, contextlib.ExitStack() as stack:
        ledgers = []
        for side in ("empty", "loaded"):  # two stores: one keeps no history, side by side
            (Path(work) / side).mkdir()
            proc, ports = start_azurite(Path(work) / side)
            stack.callback(proc.stop)
            ledgers.append(
                Ledger(TableServiceClient.from_connection_string(ports.connection_string))
            )
        bare, ledger = ledgers
        due = stamp(now_utc() - timedelta(seconds=5))
        for i in range(waiting):
            for each in ledgers:
                each.create(_run(f"waiting-{i}", RunStatus.WAITING, due))
        loaded = _load(ledger.archive.table(), history, "archived", partition)
        empty, archived = _ticks(bare, ledger)
        _load(ledger.table(), hot_history, "done")
        empty_again, hot = _ticks(bare, ledger)
    return {
        "waiting_runs": waiting,
        "history_runs": history,
        "tick_s_no_history": round(empty, 4),
        "tick_s_with_history": round(archived, 4),
        "ratio": round(archived / empty, 2),
        "target_ratio": 1.1,
        "history_load_s": round(loaded, 1),
        "hot_history_runs": hot_history,
        "tick_s_with_hot_history": round(hot, 4),
        "tick_s_no_history_beside_hot": round(empty_again, 4),
        "hot_ratio": round(hot / empty_again, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, default=100_000)
    parser.add_argument("--waiting", type=int, default=50)
    parser.add_argument("--hot-history", type=int, default=20_000)
    args = parser.parse_args()
    result = run(args.history, args.waiting, args.hot_history)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "poller_tick.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
