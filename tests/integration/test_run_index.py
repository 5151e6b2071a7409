"""The index of runs still going, on Azurite: the poller's queries read it, not the history;
runs recorded before the index existed are indexed once; a stale index row is never acted on
and is repaired from the run."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableServiceClient

from shared.ledger import Ledger, Run, RunStatus, StageRecord, now_utc, stamp
from shared.ledger_sweep import sweep
from shared.messages import Stage
from shared.run_index import ACTIVE
from shared.settings import Settings
from shared.storage import table_service


def fresh_ledger(settings: Settings) -> tuple[Ledger, TableServiceClient]:
    service = table_service(settings)
    return Ledger(service, table=f"pcruns{uuid.uuid4().hex[:8]}"), service


def run(run_id: str, status: RunStatus, **fields: object) -> Run:
    at = stamp(now_utc() - timedelta(minutes=5))
    return Run(
        run_id=run_id,
        status=status,
        stage=Stage.AWAIT_PREVIEW,
        created_at=at,
        updated_at=at,
        timeline=[StageRecord(stage=Stage.AWAIT_PREVIEW, started=at)],
        **fields,  # type: ignore[arg-type]
    )


def due(ledger: Ledger) -> list[Run]:
    return sweep(ledger, now_utc(), now_utc() - timedelta(minutes=15)).due


def test_history_is_not_read_and_old_runs_are_indexed_once(settings: Settings) -> None:
    ledger, service = fresh_ledger(settings)
    due_at = stamp(now_utc() - timedelta(seconds=1))
    table = ledger.table()
    # Written before the index existed: 300 finished runs and one that still waits.
    for i in range(0, 300, 100):
        table.submit_transaction(
            [
                ("upsert", run(f"old-{j}", RunStatus.SUCCEEDED).to_entity())
                for j in range(i, i + 100)
            ]
        )
    table.upsert_entity(run("old-waiting", RunStatus.WAITING, next_check_at=due_at).to_entity())
    assert [r.run_id for r in due(ledger)] == ["old-waiting"]
    index = ledger.index_table()
    indexed = [e["RowKey"] for e in index.query_entities("PartitionKey eq 'active'")]
    assert sorted(indexed) == ["index-built", "old-waiting"]  # the history stays out of it
    # A new run goes through the ledger's writes, and leaves the index when it ends.
    created = run("new-1", RunStatus.WAITING, next_check_at=due_at)
    assert ledger.create(created)
    assert {r.run_id for r in due(ledger)} == {"old-waiting", "new-1"}
    stored = ledger.get("new-1")
    assert stored is not None
    ledger.replace(stored.evolve(status=RunStatus.SUCCEEDED, next_check_at=None))
    assert [r.run_id for r in due(ledger)] == ["old-waiting"]
    assert "new-1" not in [e["RowKey"] for e in index.query_entities("PartitionKey eq 'active'")]
    service.delete_table(table.table_name)
    service.delete_table(index.table_name)


def test_a_stale_index_row_is_repaired_not_acted_on(settings: Settings) -> None:
    ledger, service = fresh_ledger(settings)
    running = run("r-1", RunStatus.RUNNING)
    assert ledger.create(running)
    # The index says due (a writer that lost its race and died before repairing it).
    ledger.index.put(running.evolve(status=RunStatus.WAITING, next_check_at=stamp(now_utc())))
    assert due(ledger) == []
    row = ledger.index_table().get_entity(ACTIVE, "r-1")
    assert row["status"] == "running"
    service.delete_table(ledger.table().table_name)
    service.delete_table(ledger.index_table().table_name)


def test_a_waiting_run_whose_row_is_gone_is_named_after_the_stall_window(
    settings: Settings,
) -> None:
    ledger, service = fresh_ledger(settings)
    parked = run(
        "parked-1",
        RunStatus.WAITING,
        next_check_at=stamp(now_utc() - timedelta(seconds=1)),
        offer="contoso-app",
        product_id="prod-1",
    )
    assert ledger.create(parked)
    ledger.table().delete_entity("run", "parked-1")  # its row lost; no message in flight
    # A row just indexed may precede its run's first write: not lost inside the window.
    found = sweep(ledger, now_utc(), now_utc() - timedelta(minutes=15))
    assert (found.due, found.lost) == ([], [])
    found = sweep(ledger, now_utc(), now_utc())
    assert [(r.run_id, r.offer, r.product_id, r.stage) for r in found.lost] == [
        ("parked-1", "contoso-app", "prod-1", "await_preview")
    ]
    assert found.due == []
    service.delete_table(ledger.table().table_name)
    service.delete_table(ledger.index_table().table_name)


def test_a_repair_never_moves_the_index_backwards(settings: Settings) -> None:
    """The sweep read a run, then the run moved on (its index row written first): repairing
    from what the sweep read must not undo the newer row, or the run would wait unseen."""
    ledger, _ = fresh_ledger(settings)
    due_at = stamp(now_utc() - timedelta(seconds=1))
    assert ledger.create(run("moving-1", RunStatus.WAITING, next_check_at=due_at))
    read_by_sweep = ledger.get("moving-1")
    assert read_by_sweep is not None
    moved = ledger.replace(
        read_by_sweep.evolve(status=RunStatus.RUNNING, stage=Stage.PROMOTE, next_check_at=None)
    )
    on_its_way = moved.evolve(status=RunStatus.WAITING, stage=Stage.AWAIT_LIVE)
    on_its_way = on_its_way.evolve(next_check_at=due_at, updated_at=stamp(now_utc()))
    ledger.index.put(on_its_way)  # the next write's index row; its run write is on its way
    ledger.index.repair(moved, lambda: moved)  # a repair from an older reading
    row = ledger.index_table().get_entity(ACTIVE, "moving-1")
    assert (row["status"], row["stage"]) == ("waiting", "await_live")
    # A row "ahead" of its run for over a minute is a write that died: repaired.
    dead = on_its_way.evolve(updated_at=stamp(now_utc() - timedelta(seconds=90)))
    ledger.index.put(dead)
    older = moved.evolve(updated_at=stamp(now_utc() - timedelta(seconds=120)))
    ledger.index.repair(older, lambda: older)
    row = ledger.index_table().get_entity(ACTIVE, "moving-1")
    assert (row["status"], row["stage"]) == ("running", "promote")
    # Our own write that lost a race leaves a row we know is wrong: repaired at once.
    mine = moved.evolve(stage=Stage.COMPLETE, updated_at=stamp(now_utc() + timedelta(seconds=1)))
    ledger.index.put(mine)
    ledger.index.repair(
        ledger.get("moving-1"), lambda: ledger.get("moving-1"), failed=mine.updated_at
    )
    row = ledger.index_table().get_entity(ACTIVE, "moving-1")
    assert row["stage"] == "promote"


def test_a_repair_never_lists_a_finished_run_again(settings: Settings) -> None:
    """A repair from a reading taken before the run ended found the row gone (dropped after
    the ending write): it must not make it anew, or the finished run stays listed as going
    (and read by every stall sweep) for the whole stall window. A row lost while its run still
    goes is made anew from the run as it is now."""
    ledger, _ = fresh_ledger(settings)
    assert ledger.create(run("ending-1", RunStatus.RUNNING))
    read_before = ledger.get("ending-1")
    assert read_before is not None
    ledger.replace(read_before.evolve(status=RunStatus.SUCCEEDED))
    with pytest.raises(ResourceNotFoundError):
        ledger.index_table().get_entity(ACTIVE, "ending-1")
    ledger.index.repair(read_before, lambda: ledger.get("ending-1"))
    with pytest.raises(ResourceNotFoundError):
        ledger.index_table().get_entity(ACTIVE, "ending-1")
    assert sweep(ledger, now_utc(), now_utc()).stalled == []

    assert ledger.create(run("going-1", RunStatus.RUNNING))
    going = ledger.get("going-1")
    ledger.index.drop("going-1")  # lost with its table
    ledger.index.repair(going, lambda: ledger.get("going-1"))
    row = ledger.index_table().get_entity(ACTIVE, "going-1")
    assert (row["status"], row["stage"]) == ("running", "await_preview")


def test_a_repair_leaves_a_row_that_already_says_what_the_run_says(settings: Settings) -> None:
    """A stale status check mends the index through `repair`; most such checks are plain late
    copies whose row is right: that costs the row's read, and no write."""
    ledger, _ = fresh_ledger(settings)
    waiting = run("right-1", RunStatus.WAITING, next_check_at=stamp(now_utc()))
    ledger.index.put(waiting)
    before = ledger.index_table().get_entity(ACTIVE, "right-1").metadata["etag"]
    ledger.index.repair(waiting, lambda: waiting)
    assert ledger.index_table().get_entity(ACTIVE, "right-1").metadata["etag"] == before
    moved = waiting.evolve(next_check_at=stamp(now_utc() + timedelta(minutes=1)))
    ledger.index.repair(moved, lambda: moved)  # one that says otherwise is rewritten
    row = ledger.index.get("right-1")
    assert row is not None and row.next_check_at == moved.next_check_at
