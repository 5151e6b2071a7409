"""Days of Partner Center time in seconds: the pipeline's clock and the simulator's are
driven together, so a certification that takes days and a deadline of two weeks are tested as
they happen in reality (the status polls stretch, the run survives, the deadline ends it)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError

from pcpub.azurite import AzuritePorts, start_azurite
from pcsim.admin import SimulatorClient
from shared.ledger import Run, now_utc, parse_stamp
from shared.messages import Stage
from shared.pipeline.checks import handle_check_message
from shared.pipeline.effects import Pipeline
from shared.pipeline.intake import accept_request
from shared.pipeline.poller import poll_due
from shared.pipeline.runner import handle_stage_message
from shared.queues import CHECKS, STAGE_QUEUES
from tests.integration.conftest import simulator

DAY = 24 * 3600.0


@pytest.fixture(scope="module")
def sim_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    yield from simulator(tmp_path_factory)  # its clock moves days: not the session's


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzuritePorts]:
    """Storage of its own: each driven half hour makes every other test's unfinished run in a
    shared ledger look stalled, and re-driving them all at every tick made this slow."""
    proc, ports = start_azurite(tmp_path_factory.mktemp("azurite-driven"))
    yield ports
    proc.stop()


class DrivenClock:
    """Wall time plus an offset the test moves, for the pipeline and the simulator alike."""

    def __init__(self, admin: SimulatorClient) -> None:
        self.offset = timedelta()
        self.admin = admin

    def now(self) -> datetime:
        return now_utc() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)
        self.admin.advance_clock(seconds)


def driven(pipeline: Pipeline, clock: DrivenClock, **deps_changes: Any) -> Pipeline:
    deps = dataclasses.replace(pipeline.stage_deps, now=clock.now, **deps_changes)
    return dataclasses.replace(pipeline, clock=clock.now, stage_deps=deps)


def drive(pipeline: Pipeline, clock: DrivenClock, run_id: str, step: float, most: float) -> Run:
    """Deliver every message and tick the poller, then move time by `step`, until the run ends
    or `most` seconds of driven time have passed."""
    started = clock.offset
    while (clock.offset - started).total_seconds() < most:
        tick(pipeline, [run_id])
        run = current(pipeline, run_id)
        if run.status.terminal:
            return run
        clock.advance(step)
    raise AssertionError(f"{run_id} still going after {most / DAY:.1f} driven days")


def deliver(pipeline: Pipeline, ids: list[str], queues: Iterable[tuple[Stage | None, str]]) -> None:
    """Every message of the runs on these queues, once (stage None: the check queue)."""
    for stage, queue in queues:
        client = pipeline.queues.client(queue)
        try:
            messages = list(client.receive_messages(max_messages=32, visibility_timeout=30))
        except ResourceNotFoundError:
            continue
        for message in messages:
            text = message.content.decode()
            if not any(i in text for i in ids):
                continue  # another test's leftover on the session's queues
            if stage is None:
                handle_check_message(pipeline, text)
            else:
                handle_stage_message(pipeline, stage, text)
            client.delete_message(message)


def request(name: str, target: str = "live") -> str:
    body = {"schemaVersion": 1, "requestId": name, "offer": {"externalId": name}}
    return json.dumps({**body, "target": target})


def status_reads(admin: SimulatorClient, product: str, submission: str) -> int:
    return sum(
        1
        for r in admin.requests()
        if r["method"] == "GET" and r["path"].endswith(f"{product}/submissions/{submission}")
    )


def test_a_certification_of_three_days_and_a_day_to_publish(
    pipeline: Pipeline, admin: SimulatorClient
) -> None:
    clock = DrivenClock(admin)
    at = driven(pipeline, clock, max_poll_seconds=4 * 3600)  # PC_STATUS_POLL_MAX_SECONDS
    product = admin.add_offer("three-days", ["basic"])["id"]
    admin.admin_put("timings", {"certify": 3 * DAY, "publish": DAY})
    try:
        accept_request(at, request("three-days"), "m-1")
        run = drive(at, clock, "three-days", step=1800, most=6 * DAY)
    finally:
        admin.admin_put("timings", {"profile": "fast"})
    assert run.status == "succeeded", run.reason
    assert clock.offset >= timedelta(days=4)  # it really waited four days
    # Polls stretch with the wait (a tenth of the time waited, up to four hours here): far
    # fewer than the driven half hours (~200), let alone one a minute for four days (5,760).
    reads = status_reads(admin, product, run.submission_id or "")
    assert 10 <= reads <= 150, reads


def test_a_certification_that_never_ends_meets_the_two_week_deadline(
    pipeline: Pipeline, admin: SimulatorClient
) -> None:
    clock = DrivenClock(admin)
    at = driven(pipeline, clock)
    product = admin.add_offer("never-certified", ["basic"])["id"]
    admin.admin_put(f"products/{product}/script", {"certificationHang": True})
    accept_request(at, request("never-certified"), "m-2")
    run = drive(at, clock, "never-certified", step=6 * 3600, most=16 * DAY)
    assert run.status == "failed"
    assert "deadline of 336 h passed at stage await_preview" in (run.reason or "")
    assert timedelta(days=14) <= clock.offset <= timedelta(days=14, hours=12)
    left = admin.ingestion("GET", f"products/{product}/submissions").json()["value"]
    assert left == []  # its submission was deleted: nothing blocks the offer's next run


def test_an_answer_for_one_run_moves_up_the_check_of_the_run_waiting_alongside(
    pipeline: Pipeline, admin: SimulatorClient
) -> None:
    """Two offers of a type in certification, the mate hours longer: its checks are 15
    minutes apart. Both are certified at once, right after the mate's own check; the finder's
    next check sees it, and the mate hears it at the next tick, not 15 minutes on."""
    clock = DrivenClock(admin)
    at = driven(pipeline, clock)
    hung = {"script": {"certificationHang": True}}  # until the test says
    products = {
        n: admin.add_offer(n, ["basic"], **hung)["id"]
        for n in ("alongside-mate", "alongside-finder")
    }
    accept_request(at, request("alongside-mate", "preview"), "m-3")
    drive_all(at, clock, ["alongside-mate"], step=300, seconds=3 * 3600)  # polls thin out to 15 min
    accept_request(at, request("alongside-finder", "preview"), "m-4")
    drive_all(at, clock, ["alongside-mate", "alongside-finder"], step=30, seconds=1200)
    seen = current(at, "alongside-mate").checked_at
    for _ in range(40):  # until the mate's own check has been (every 15 min: 30 steps)
        if current(at, "alongside-mate").checked_at != seen:
            break
        drive_all(at, clock, ["alongside-mate", "alongside-finder"], step=30, seconds=30)
    else:
        raise AssertionError("the mate was not checked in 20 driven minutes")
    mate = current(at, "alongside-mate")
    assert mate.next_check_at and parse_stamp(mate.next_check_at) - clock.now() > timedelta(
        minutes=10
    )
    for product in products.values():
        admin.end_certification(product)
    for _ in range(20):  # the finder checks every two minutes or so by now
        if current(at, "alongside-finder").status.terminal:
            break
        drive_all(at, clock, ["alongside-mate", "alongside-finder"], step=30, seconds=30)
    else:
        raise AssertionError("the finder did not see its preview in 10 driven minutes")
    finder = current(at, "alongside-finder")
    drive_all(at, clock, ["alongside-mate", "alongside-finder"], step=30, seconds=60)
    mate_now = current(at, "alongside-mate")
    assert (finder.status, mate_now.status) == ("succeeded", "succeeded"), mate_now.reason
    gap = parse_stamp(mate_now.updated_at) - parse_stamp(finder.updated_at)
    assert timedelta() <= gap <= timedelta(seconds=60)  # the next tick, or the one after
    assert parse_stamp(mate_now.updated_at) < parse_stamp(mate.next_check_at) - timedelta(minutes=5)


def current(pipeline: Pipeline, run_id: str) -> Run:
    run = pipeline.ledger.get(run_id)
    assert run is not None
    return run


def drive_all(
    pipeline: Pipeline, clock: DrivenClock, run_ids: list[str], step: float, seconds: float
) -> None:
    """Deliver the runs' messages and tick the poller, moving time by `step`, for `seconds`."""
    until = clock.offset + timedelta(seconds=seconds)
    while clock.offset < until:
        tick(pipeline, run_ids)
        clock.advance(step)


def tick(pipeline: Pipeline, run_ids: list[str]) -> None:
    """Deliver the runs' stage messages, tick the poller, deliver the checks it dispatched."""
    deliver(pipeline, run_ids, STAGE_QUEUES.items())
    poll_due(pipeline)
    deliver(pipeline, run_ids, [(None, CHECKS)])
