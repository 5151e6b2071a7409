"""A release's offers waiting at a gate hear of their mates' moves at once, on real storage:
a failure crosses a chain of dependants one check a link, each naming the offer at the head
of the chain (not every link around it); an offer leaving the flight lets exactly as many
waiting for room go on. No tick runs here: a gate's own checks are an hour apart."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest
from azure.core.exceptions import ResourceExistsError

from shared.ledger import Run, RunStatus
from shared.messages import Stage
from shared.pipeline.checks import handle_check_message
from shared.pipeline.effects import Pipeline, apply_outcome
from shared.pipeline.intake import accept
from shared.pipeline.outcomes import Failed, Finished
from shared.pipeline.runner import run_stage
from shared.queues import CHECKS
from shared.releases import Releases, summarize

HOUR = 3600.0


@pytest.fixture
def slow(pipeline: Pipeline) -> Pipeline:
    """Gates whose own checks would come an hour apart: only a wake moves them sooner."""
    return replace(pipeline, stage_deps=replace(pipeline.stage_deps, poll_seconds=HOUR))


def open_release(pipeline: Pipeline, offers: list[dict[str, Any]], **extra: Any) -> str:
    """A release to preview, accepted, each offer's first gate check run (the first admitted,
    the rest waiting); its id."""
    release_id = f"mv-{uuid.uuid4().hex[:8]}"
    body = {"schemaVersion": 1, "releaseId": release_id, "target": "preview", **extra}
    accept(pipeline, json.dumps({**body, "offers": offers}), f"m-{release_id}")
    for entry in offers:
        run_stage(pipeline, member(pipeline, release_id, entry["name"]), Stage.AWAIT_RELEASE)
    return release_id


def member(pipeline: Pipeline, release_id: str, name: str) -> Run:
    run = pipeline.ledger.get(f"{release_id}.{name}")
    assert run is not None
    return run


def run_checks(pipeline: Pipeline) -> int:
    """Run each check message on the queue in this process, as the check function would,
    until none is left; how many ran."""
    queue = pipeline.queues.client(CHECKS)
    with contextlib.suppress(ResourceExistsError):
        queue.create_queue()  # none sent to it yet
    ran = 0
    for _ in range(50):
        batch = list(queue.receive_messages(max_messages=32, visibility_timeout=30))
        if not batch:
            return ran
        for message in batch:
            handle_check_message(pipeline, message.content)
            queue.delete_message(message)
            ran += 1
    raise AssertionError("checks kept coming")


def test_a_failure_crosses_a_chain_at_once_naming_its_head(slow: Pipeline) -> None:
    offers = [
        {"name": f"o{i}", "offer": {"externalId": f"mv-{i}"}, "dependsOn": [f"o{i - 1}"]}
        if i
        else {"name": "o0", "offer": {"externalId": "mv-0"}}
        for i in range(6)
    ]
    release_id = open_release(slow, offers)
    waiting = member(slow, release_id, "o5")
    assert waiting.status is RunStatus.WAITING and waiting.stage == Stage.AWAIT_RELEASE
    head = member(slow, release_id, "o0")
    assert head.stage == Stage.RESOLVE  # admitted: it has nothing to wait for
    why = "unknown offer: no product has offer id 'mv-0'"
    started = time.monotonic()
    apply_outcome(slow, head, Stage.RESOLVE, Failed(reason=why, rejected=True), 0)
    assert run_checks(slow) == 5  # one check a link, none repeated
    assert time.monotonic() - started < 30  # not an hour a link
    runs = {f"o{i}": member(slow, release_id, f"o{i}") for i in range(6)}
    assert all(runs[f"o{i}"].status is RunStatus.FAILED for i in range(1, 6))
    assert runs["o1"].reason == f"blocked: o0 rejected ({why}); not submitted"
    assert runs["o5"].reason == f"blocked: o4 failed, blocked by o0 rejected ({why}); not submitted"
    assert all(runs[f"o{i}"].blocked_by == ["o0"] for i in range(1, 6))
    release = Releases(slow.ledger).get(release_id)
    assert release is not None
    told = summarize(release, Releases(slow.ledger).runs(release)).describe()
    assert "o0 blocks o1, o2, o3, o4, o5" in told and "o1 blocks" not in told


def test_two_failed_heads_are_named_once_each(slow: Pipeline) -> None:
    """A diamond: `top` depends on `mid` (blocked by `bad`) and on `odd` (failed itself)."""
    offers = [
        {"name": "bad", "offer": {"externalId": "mv-bad"}},
        {"name": "odd", "offer": {"externalId": "mv-odd"}},
        {"name": "mid", "offer": {"externalId": "mv-mid"}, "dependsOn": ["bad"]},
        {"name": "top", "offer": {"externalId": "mv-top"}, "dependsOn": ["mid", "odd"]},
    ]
    release_id = open_release(slow, offers, maxInFlight=2)
    for name, why in (("bad", "certification failed"), ("odd", "a 400 on the draft")):
        run = member(slow, release_id, name)
        apply_outcome(slow, run, Stage.RESOLVE, Failed(reason=why), 0)
    run_checks(slow)
    top = member(slow, release_id, "top")
    assert top.status is RunStatus.FAILED and top.blocked_by == ["bad", "odd"]
    assert top.reason == (
        "blocked: odd failed (a 400 on the draft); mid failed, blocked by bad failed "
        "(certification failed); not submitted"
    )


def test_an_offer_leaving_the_flight_lets_one_waiting_for_room_on(slow: Pipeline) -> None:
    offers = [{"name": f"r{i}", "offer": {"externalId": f"mv-r{i}"}} for i in range(4)]
    release_id = open_release(slow, offers, maxInFlight=1)
    first = member(slow, release_id, "r0")
    assert first.stage == Stage.RESOLVE
    for name in ("r1", "r2", "r3"):
        assert "waiting for room" in (member(slow, release_id, name).reason or "")
    apply_outcome(slow, first, Stage.RESOLVE, Finished(at=Stage.COMPLETE), 0)  # in preview
    assert run_checks(slow) == 1
    assert member(slow, release_id, "r1").stage == Stage.RESOLVE  # admitted: on its way
    for name in ("r2", "r3"):
        still = member(slow, release_id, name)
        assert still.status is RunStatus.WAITING and still.stage == Stage.AWAIT_RELEASE
    apply_outcome(slow, member(slow, release_id, "r1"), Stage.RESOLVE, Failed(reason="x"), 0)
    assert run_checks(slow) == 1
    assert member(slow, release_id, "r2").stage == Stage.RESOLVE
    assert member(slow, release_id, "r3").stage == Stage.AWAIT_RELEASE


def test_two_offers_leaving_the_flight_at_once_let_two_on(slow: Pipeline) -> None:
    """Whichever of two moves at once reads second sees both settled and wakes both offers
    waiting for room (a mate the first woke is not woken twice)."""
    offers = [{"name": f"t{i}", "offer": {"externalId": f"mv-t{i}"}} for i in range(5)]
    release_id = open_release(slow, offers, maxInFlight=2)
    flying = [member(slow, release_id, name) for name in ("t0", "t1")]
    assert all(run.stage == Stage.RESOLVE for run in flying)
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = Finished(at=Stage.COMPLETE)
        list(pool.map(lambda run: apply_outcome(slow, run, Stage.RESOLVE, done, 0), flying))
    assert run_checks(slow) == 2
    stages = {name: member(slow, release_id, name).stage for name in ("t2", "t3", "t4")}
    assert stages == {"t2": Stage.RESOLVE, "t3": Stage.RESOLVE, "t4": Stage.AWAIT_RELEASE}
