"""What `pcpub status` shows, from a run record (no storage needed)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from pcpub.cli import build_parser
from pcpub.ops import MESSAGE_LEASE_SECONDS, delivery_line, format_status, status_dict
from shared.ledger import Run, RunStatus, StageRecord, parse_stamp
from shared.settings import Settings


def a_run(**changes: object) -> Run:
    run = Run(
        run_id="r-1",
        status=RunStatus.FAILED,
        stage="await_preview",
        target="live",
        offer="offer:contoso",
        product_id="p",
        submission_id="115",
        pc_status="InProgress/InDraft",
        reason="submission 115 failed: no contact",
        changed_modules=["Listing"],
        packages={"basic": "pkg-1"},
        created_at="2026-11-24T10:00:00.000000Z",
        timeline=[
            StageRecord(
                stage="intake",
                started="2026-11-24T10:00:00.000000Z",
                ended="2026-11-24T10:00:00.000000Z",
                result="ok",
            ),
            StageRecord(
                stage="resolve",
                started="2026-11-24T10:00:00.000000Z",
                ended="2026-11-24T10:00:01.500000Z",
                calls=2,
                result="ok",
            ),
            StageRecord(stage="await_preview", started="2026-11-24T10:00:01.500000Z", calls=3),
        ],
    )
    return run.evolve(**changes)


def test_status_text_says_where_and_why() -> None:
    text = format_status(a_run())
    assert "r-1: failed at await_preview" in text
    assert "submission 115: InProgress/InDraft" in text
    assert "reason: submission 115 failed: no contact" in text
    assert "changed modules: Listing" in text
    assert "resolve" in text and "1.50s" in text and "running" in text
    assert "Partner Center calls: 5" in text


def test_status_shows_a_dead_letter_over_the_last_error() -> None:
    text = format_status(a_run(dead_letter="pc-promote: boom", last_error="boom"))
    assert "dead-lettered: pc-promote: boom (pcpub poison redrive)" in text
    assert "last error" not in text
    assert "last error: boom" in format_status(a_run(last_error="boom"))


def test_status_says_since_when_a_run_is_in_trouble() -> None:
    text = format_status(a_run(troubled_since="2026-12-07T09:00:00Z", reason="503"))
    assert "in trouble since 2026-12-07T09:00:00Z: retried, less and less often" in text
    assert "in trouble" not in format_status(a_run())


def test_status_json_round_trips() -> None:
    data = json.loads(json.dumps(status_dict(a_run())))
    assert data["callsMade"] == 5
    assert data["timeline"][1]["seconds"] == 1.5
    assert data["packages"] == {"basic": "pkg-1"}


def test_every_command_parses() -> None:
    parser = build_parser()
    for argv in (
        ["demo"],
        ["up"],
        ["simulator", "--port", "0"],
        ["host"],
        ["enqueue", "-", "--account", "x"],
        ["status", "r", "--json"],
        ["runs"],
        ["poison", "list"],
        ["poison", "redrive"],
    ):
        assert parser.parse_args(argv).command == argv[0]


def test_status_says_where_a_running_runs_message_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PC_STALL_SECONDS", raising=False)
    monkeypatch.delenv("PC_CLAIM_SECONDS", raising=False)
    start = "2026-11-24T10:00:00.000000Z"
    running = a_run(status=RunStatus.RUNNING, stage="promote", updated_at=start)
    now = parse_stamp(start) + timedelta(seconds=30)
    assert "queued for promote; re-driven by the poller at 2026-11-24T10:15:00" in (
        format_status(running, now)
    )
    claimed = running.evolve(claimed_stage="promote", claimed_at=start)
    assert "being worked on since" in format_status(claimed, now)
    # Its instance stopped mid-stage: the run waits for the message lease, then the sweep.
    later = parse_stamp(start) + timedelta(minutes=7)
    text = format_status(claimed, later)
    assert "message lease runs out (by 2026-11-24T10:10:00" in text
    assert "re-drives the run at 2026-11-24T10:15:00" in text
    assert delivery_line(a_run(), later) is None  # a finished run has no message


def test_the_stall_window_outlasts_the_message_lease() -> None:
    """The sweep never re-drives a run whose message a live instance may still hold."""
    stall = Settings.model_fields["stall_seconds"].default
    claim = Settings.model_fields["claim_seconds"].default
    assert claim < MESSAGE_LEASE_SECONDS < stall


def test_status_says_how_long_a_wait_like_this_one_usually_takes() -> None:
    run = a_run(status=RunStatus.WAITING, next_check_at="2026-11-24T10:40:00.000000Z")
    now = parse_stamp("2026-11-24T10:30:01.500000Z")  # 30 minutes into the wait
    text = format_status(run, now, usual=(3600.0, 4 * 86400.0))
    assert "waited 30.0 min; waits like this usually end after 1.0 h to 4.0 d" in text
    assert "(next check 2026-11-24T10:40:00.000000Z)" in text
    assert status_dict(run, (3600.0, 5.0))["usualWait"] == {
        "shortestSeconds": 3600.0,
        "longestSeconds": 5.0,
    }
    assert "usually" not in format_status(run, now)  # nothing known: nothing said
