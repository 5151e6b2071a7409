"""The history of Partner Center's waits on Azurite: a kind is known from its fifth wait, read
at most once a minute, bounded whatever the history, and fed by the one place outcomes become
effects when a run leaves a wait (and only then)."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import timedelta

import pytest
from azure.data.tables import TableClient

from pcpub.azurite import DEV_KEY
from pcpub.cli import main
from shared.ledger import Ledger, Run, RunStatus, StageRecord, now_utc, stamp
from shared.messages import Stage
from shared.pipeline.effects import Pipeline, apply_outcome
from shared.pipeline.outcomes import Advance, Failed, Wait
from shared.settings import Settings
from shared.storage import table_service
from shared.wait_history import KEEP, PARTITION, WaitHistory, kind_of

KIND = "AzureApplication.await_preview"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ledger(settings: Settings) -> Ledger:
    """A table of its own: no other test's waits."""
    return Ledger(table_service(settings), table=f"pcwaits{uuid.uuid4().hex[:8]}")


def rows(ledger: Ledger) -> list[dict[str, object]]:
    return list(ledger.table().query_entities("PartitionKey eq @p", parameters={"p": PARTITION}))


def test_a_kind_is_known_from_its_fifth_wait_and_read_at_most_once_a_minute(
    ledger: Ledger,
) -> None:
    clock = Clock()
    waits = WaitHistory(ledger.table, clock=clock)
    for n, seconds in enumerate((50.0, 60.0, 70.0, 80.0)):
        waits.observe(KIND, f"run-{n}", seconds)
    assert waits.span(KIND) is None
    waits.observe(KIND, "run-4", 90.0)
    assert waits.span(KIND) is None  # as read a moment ago
    clock.now += 61
    assert waits.span(KIND) == (50.0, 90.0)
    assert waits.span("AzureApplication.await_live") is None  # another kind, another count


def test_a_runs_wait_takes_a_slot_so_the_rows_never_grow_with_history(ledger: Ledger) -> None:
    waits = WaitHistory(ledger.table)
    for n in range(200):
        waits.observe(KIND, f"run-{n}", 60.0)
    assert len(rows(ledger)) <= KEEP
    waits.observe(KIND, "run-7", 75.0)  # a run's later wait of the same kind: its own slot
    waits.observe(KIND, "run-7", 80.0)
    assert len(rows(ledger)) <= KEEP
    assert sum(1 for r in rows(ledger) if r["seconds"] == 80.0) == 1


def test_only_the_newest_waits_of_the_last_ninety_days_count(ledger: Ledger) -> None:
    old = stamp(now_utc() - timedelta(days=91))
    for slot in range(10):
        ledger.table().upsert_entity(
            {"PartitionKey": PARTITION, "RowKey": f"{KIND}:{slot:02d}", "seconds": 5.0, "at": old}
        )
    assert WaitHistory(ledger.table).span(KIND) is None
    waits = WaitHistory(ledger.table)
    for n in range(20):  # 16 newest: 20 waits, the four oldest of them long
        waits.observe(KIND, f"new-{n}", 600.0 if n < 4 else 60.0)
    assert waits.span(KIND) == (60.0, 60.0)


def waiting(run_id: str, waited: timedelta) -> Run:
    at = stamp(now_utc() - waited)
    return Run(
        run_id=run_id,
        status=RunStatus.WAITING,
        stage=Stage.AWAIT_PREVIEW,
        offer="offer:x",
        offer_type="AzureApplication",
        product_id="p-1",
        submission_id="1152921505695125001",
        created_at=at,
        timeline=[StageRecord(stage=Stage.AWAIT_PREVIEW, started=at)],
    )


def test_a_run_leaving_a_wait_on_partner_center_records_how_long_it_took(
    pipeline: Pipeline, ledger: Ledger
) -> None:
    learning = dataclasses.replace(pipeline, waits=WaitHistory(ledger.table))
    run_id = f"run-{uuid.uuid4().hex[:8]}"
    assert learning.ledger.create(waiting(run_id, timedelta(seconds=42)))
    run = learning.ledger.get(run_id)
    assert run is not None
    still = Wait(check=Stage.AWAIT_PREVIEW, delay_seconds=1, reason="certification for preview")
    run = apply_outcome(learning, run, Stage.AWAIT_PREVIEW, still, 1)
    assert rows(ledger) == []  # not over yet
    apply_outcome(learning, run, Stage.AWAIT_PREVIEW, Advance(to=Stage.PROMOTE), 1)
    (row,) = rows(ledger)
    assert str(row["RowKey"]).startswith(f"{KIND}:")
    assert 42 <= float(str(row["seconds"])) < 52


def test_a_wait_records_when_its_last_check_found_it_still_going(
    pipeline: Pipeline, ledger: Ledger
) -> None:
    """The end lies between the check that found the preview still certifying (due 40 s into
    the wait) and the one that found it ready: both are kept, so later runs aim between them.
    A check that asked Partner Center nothing (held by an incident) moves neither."""
    learning = dataclasses.replace(pipeline, waits=WaitHistory(ledger.table))
    run_id = f"run-{uuid.uuid4().hex[:8]}"
    due = stamp(now_utc() - timedelta(seconds=2))
    assert learning.ledger.create(waiting(run_id, timedelta(seconds=42)).evolve(next_check_at=due))
    run = learning.ledger.get(run_id)
    assert run is not None
    still = Wait(check=Stage.AWAIT_PREVIEW, delay_seconds=1, reason="certification for preview")
    run = apply_outcome(learning, run, Stage.AWAIT_PREVIEW, still, 1)
    assert run.checked_at == due
    run = apply_outcome(learning, run, Stage.AWAIT_PREVIEW, still, 0)  # held: asked nothing
    assert run.checked_at == due
    apply_outcome(learning, run, Stage.AWAIT_PREVIEW, Advance(to=Stage.PROMOTE), 1)
    (row,) = rows(ledger)
    assert 39 <= float(str(row["since"])) <= 41
    assert 42 <= float(str(row["seconds"])) < 45


def test_a_check_held_back_records_the_wait_up_to_when_it_was_due(
    pipeline: Pipeline, ledger: Ledger
) -> None:
    """Polls go last in the budget: a check due 30 s ago that now sees the preview ready says
    the wait ended by then, not now (else later runs would learn to poll 30 s late)."""
    learning = dataclasses.replace(pipeline, waits=WaitHistory(ledger.table))
    run_id = f"run-{uuid.uuid4().hex[:8]}"
    held = waiting(run_id, timedelta(seconds=60))
    assert learning.ledger.create(
        held.evolve(next_check_at=stamp(now_utc() - timedelta(seconds=30)))
    )
    run = learning.ledger.get(run_id)
    assert run is not None
    apply_outcome(learning, run, Stage.AWAIT_PREVIEW, Advance(to=Stage.PROMOTE), 1)
    (row,) = rows(ledger)
    assert 29 <= float(str(row["seconds"])) < 35


def test_a_wait_that_failed_or_a_gate_teaches_nothing(pipeline: Pipeline, ledger: Ledger) -> None:
    learning = dataclasses.replace(pipeline, waits=WaitHistory(ledger.table))
    failing = waiting(f"run-{uuid.uuid4().hex[:8]}", timedelta(minutes=5))
    assert learning.ledger.create(failing)
    run = learning.ledger.get(failing.run_id)
    assert run is not None
    apply_outcome(learning, run, Stage.AWAIT_PREVIEW, Failed(reason="failed validation"), 1)
    gated = waiting(f"run-{uuid.uuid4().hex[:8]}", timedelta(hours=3))
    gated = gated.evolve(
        stage=Stage.AWAIT_GO_LIVE,
        timeline=[StageRecord(stage=Stage.AWAIT_GO_LIVE, started=gated.created_at)],
    )
    assert learning.ledger.create(gated)
    run = learning.ledger.get(gated.run_id)
    assert run is not None
    apply_outcome(learning, run, Stage.AWAIT_GO_LIVE, Advance(to=Stage.PROMOTE), 1)
    assert rows(ledger) == []


def test_a_history_out_of_reach_keeps_what_was_known_and_fails_no_poll(ledger: Ledger) -> None:
    """Storage that does not answer: the span read a minute ago stands, and none is None (a
    poll goes on the plain schedule); nothing is raised into the check."""
    unreachable = TableClient.from_connection_string(
        f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={DEV_KEY};"
        "TableEndpoint=http://127.0.0.1:9/devstoreaccount1;",  # nothing listens on port 9
        table_name=ledger.table().table_name,
        retry_total=0,
    )
    clock = Clock()
    tables = [ledger.table(), unreachable]
    waits = WaitHistory(lambda: tables[0], clock=clock)
    for n in range(5):
        waits.observe(KIND, f"run-{n}", 60.0)
    assert waits.span(KIND) == (60.0, 60.0)
    tables[0] = unreachable
    clock.now += 61
    assert waits.span(KIND) == (60.0, 60.0)
    assert WaitHistory(lambda: unreachable).span(KIND) is None


def test_an_offer_type_no_table_key_could_hold_still_has_a_history(ledger: Ledger) -> None:
    waits = WaitHistory(ledger.table)
    kind = kind_of("Azure/App#1?x\\y", "await_live")
    for n in range(5):
        waits.observe(kind, f"run-{n}", 30.0)
    assert waits.span(kind) == (30.0, 30.0)


def test_pcpub_status_says_how_long_waits_like_a_runs_usually_take(
    pipeline: Pipeline, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """An operator asking about a run in certification learns what the history knows: the
    usual span of its kind's waits; a kind with fewer than five waits seen says nothing."""
    offer_type = f"StatusType{uuid.uuid4().hex[:6]}"
    started = now_utc() - timedelta(minutes=30)
    run = Run(
        run_id=f"status-wait-{uuid.uuid4().hex[:8]}",
        status=RunStatus.WAITING,
        stage=Stage.AWAIT_PREVIEW,
        offer="contoso-app",
        offer_type=offer_type,
        next_check_at=stamp(now_utc() + timedelta(minutes=5)),
        created_at=stamp(started),
        timeline=[StageRecord(stage=Stage.AWAIT_PREVIEW, started=stamp(started))],
    )
    assert pipeline.ledger.create(run)
    assert settings.storage_connection
    args = ["status", run.run_id, "--connection-string", settings.storage_connection]

    def shown() -> str:
        assert main(args) == 0
        return capsys.readouterr().out

    assert "usually" not in shown()
    history = WaitHistory(pipeline.ledger.table)
    for n, hours in enumerate([1.0, 2.0, 3.0, 4.0, 6.0]):
        history.observe(kind_of(offer_type, Stage.AWAIT_PREVIEW), f"earlier-{n}", hours * 3600)
    assert "waits like this usually end after 1.0 h to 6.0 h" in shown()
    assert main([*args, "--json"]) == 0
    said = json.loads(capsys.readouterr().out)["usualWait"]
    assert said == {"shortestSeconds": 3600.0, "longestSeconds": 21600.0}
