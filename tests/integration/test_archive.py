"""Finished runs leave the hot table and stay readable; `pcpub runs` pages and filters on the
table service (Azurite)."""

from __future__ import annotations

import base64
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from azure.data.tables import TableServiceClient

from pcpub.azurite import AzuritePorts
from pcpub.cli import main
from shared.archive import BUCKETS, partition
from shared.ledger import Ledger, Run, RunStatus, now_utc, stamp
from shared.messages import Stage
from shared.settings import Settings
from shared.storage import table_service


def fresh_ledger(settings: Settings) -> tuple[Ledger, TableServiceClient]:
    service = table_service(settings)
    return Ledger(service, table=f"pcruns{uuid.uuid4().hex[:8]}"), service


def put(ledger: Ledger, run_id: str, status: RunStatus, days_ago: float) -> None:
    """A run as last written `days_ago` (bypassing replace's fresh timestamp)."""
    at = stamp(now_utc() - timedelta(days=days_ago))
    run = Run(run_id=run_id, status=status, stage=Stage.COMPLETE, offer="o", created_at=at)
    ledger.table().upsert_entity(run.evolve(updated_at=at).to_entity())


def test_runs_that_ended_long_ago_move_to_the_archive_and_stay_readable(
    settings: Settings,
) -> None:
    ledger, service = fresh_ledger(settings)
    for i in range(3):
        put(ledger, f"old-{i}", RunStatus.SUCCEEDED, days_ago=40)
    put(ledger, "old-failed", RunStatus.FAILED, days_ago=31)
    put(ledger, "recent", RunStatus.SUCCEEDED, days_ago=2)
    put(ledger, "old-but-waiting", RunStatus.WAITING, days_ago=40)  # still going: stays
    assert ledger.archive_finished(now_utc() - timedelta(days=30)) == 4
    hot = sorted(r.run_id for r in ledger.runs())
    assert hot == ["old-but-waiting", "recent"]
    archived = ledger.get("old-1")  # `pcpub status` reads through to the archive
    assert archived is not None and archived.status is RunStatus.SUCCEEDED
    # A request id seen before stays a duplicate after its run is archived.
    again = Run(run_id="old-1", status=RunStatus.RUNNING, stage=Stage.RESOLVE, created_at="x")
    assert ledger.create(again) is False
    assert ledger.archive_finished(now_utc() - timedelta(days=30)) == 0  # nothing moves twice
    rows = list(ledger.archive.table().list_entities())
    assert sorted((r["PartitionKey"], r["RowKey"]) for r in rows) == sorted(
        (partition(r["RowKey"]), r["RowKey"]) for r in rows
    )
    service.delete_table(ledger.table().table_name)
    service.delete_table(ledger.archive.name)


def test_an_archive_spreads_over_partitions_and_older_rows_stay_readable(
    settings: Settings,
) -> None:
    """Runs archived before the archive had partitions of its own (in the runs partition)
    are still found by id and listed with the others, a page at a time."""
    ledger, service = fresh_ledger(settings)
    for i in range(40):
        put(ledger, f"new-{i}", RunStatus.SUCCEEDED, days_ago=40)
    assert ledger.archive_finished(now_utc() - timedelta(days=30)) == 40
    legacy = Run(run_id="legacy", status=RunStatus.FAILED, stage=Stage.COMPLETE, created_at="x")
    ledger.archive.table().upsert_entity(legacy.to_entity())  # PartitionKey 'run', as before
    # Read by another instance (the archiver's own learned a moment ago that there were none).
    ledger = Ledger(service, table=ledger.table().table_name)
    spread = {r["PartitionKey"] for r in ledger.archive.table().list_entities()}
    assert len(spread) > BUCKETS // 2 and "run" in spread
    found = ledger.get("legacy")
    assert found is not None and found.status is RunStatus.FAILED
    assert ledger.get("new-7") is not None and ledger.get("never-there") is None
    seen, token = [], None
    while True:
        page = ledger.page(archived=True, limit=15, token=token)
        seen += [r.run_id for r in page.runs]
        if (token := page.next) is None:
            break
    assert sorted(seen) == sorted(["legacy", *(f"new-{i}" for i in range(40))])
    failed = ledger.page(archived=True, status="failed")
    assert [r.run_id for r in failed.runs] == ["legacy"]
    # The archiver moves them to their partitions, and a miss then costs one read.
    assert ledger.archive_finished(now_utc() - timedelta(days=30)) == 0
    rows = {r["RowKey"]: r["PartitionKey"] for r in ledger.archive.table().list_entities()}
    assert rows["legacy"] == partition("legacy") and "run" not in rows.values()
    assert len(rows) == 41 and ledger.get("legacy") is not None
    service.delete_table(ledger.table().table_name)
    service.delete_table(ledger.archive.name)


def test_a_burst_of_misses_looks_for_older_archive_rows_once(settings: Settings) -> None:
    """A batch's first intakes all miss the archive at once (new request ids): one of them
    asks whether runs archived before the partitions are left, and the others wait for its
    answer instead of each sending the same query."""
    looks: list[str] = []

    def seen(response: Any) -> None:
        url = str(response.http_request.url)
        if "()" in url.split("?")[0] and "archive" in url:  # a query of the archive table
            looks.append(url)

    service = TableServiceClient.from_connection_string(
        settings.storage_connection or "", raw_response_hook=seen
    )
    ledger = Ledger(service, table=f"pcruns{uuid.uuid4().hex[:8]}")
    ledger.archive.table()  # made, as the archiver makes it
    looks.clear()
    with ThreadPoolExecutor(max_workers=12) as pool:
        found = list(pool.map(ledger.archive.get, [f"new-{i}" for i in range(12)]))
    assert found == [None] * 12
    assert len(looks) == 1, looks
    service.delete_table(ledger.archive.name)


def test_runs_are_listed_a_page_at_a_time_filtered_by_the_service(
    settings: Settings, azurite: AzuritePorts, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger, service = fresh_ledger(settings)
    for i in range(7):
        put(ledger, f"ok-{i}", RunStatus.SUCCEEDED, days_ago=1)
    put(ledger, "bad-1", RunStatus.FAILED, days_ago=1)
    seen, token, pages = [], None, 0
    while True:
        page = ledger.page(status="succeeded", limit=3, token=token)
        seen += [r.run_id for r in page.runs]
        pages += 1
        token = page.next
        if token is None:
            break
    assert sorted(seen) == [f"ok-{i}" for i in range(7)] and pages == 3
    with pytest.raises(ValueError, match="page token"):
        ledger.page(token="not base64 json!")
    service.delete_table(ledger.table().table_name)


def test_pcpub_runs_prints_the_next_page_token(
    azurite: AzuritePorts, capsys: pytest.CaptureFixture[str], settings: Settings
) -> None:
    ledger = Ledger(table_service(settings))  # the table `pcpub runs` reads
    for i in range(3):
        put(ledger, f"cli-page-{uuid.uuid4().hex[:6]}-{i}", RunStatus.UNCHANGED, days_ago=1)
    args = ["runs", "--state", "unchanged", "--limit", "2", "--json"]
    assert main([*args, "--connection-string", azurite.connection_string]) == 0
    first = json.loads(capsys.readouterr().out)
    assert len(first["runs"]) == 2 and first["next"]
    more = [*args, "--page", first["next"], "--connection-string", azurite.connection_string]
    assert main(more) == 0
    second = json.loads(capsys.readouterr().out)
    assert len(second["runs"]) >= 1
    assert {r["requestId"] for r in second["runs"]}.isdisjoint(
        {r["requestId"] for r in first["runs"]}
    )


@pytest.mark.parametrize(
    "token",
    [
        "not-base64!",
        base64.urlsafe_b64encode(b"{not json").decode(),
        base64.urlsafe_b64encode(b"[" * 50_000).decode(),  # past the JSON parser's depth
    ],
    ids=["not-base64", "not-json", "nested"],
)
def test_a_page_token_not_from_pcpub_runs_is_one_line(
    token: str, azurite: AzuritePorts, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["runs", "--page", token, "--connection-string", azurite.connection_string]
    assert main(args) == 2
    assert capsys.readouterr().err == "pcpub: not a page token from `pcpub runs`\n"


def test_pcpub_runs_says_on_stderr_when_nothing_matches(
    azurite: AzuritePorts, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["runs", "--state", "cancelled", "--offer", f"none-{uuid.uuid4().hex[:8]}"]
    assert main([*args, "--connection-string", azurite.connection_string]) == 0
    said = capsys.readouterr()
    assert said.out == ""  # the listing stays empty for scripts
    assert "no runs with state cancelled and offer none-" in said.err
