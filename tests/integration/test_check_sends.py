"""An aimed check due sooner than a tick on real storage: the write that set it sends it,
marks the index row, and no tick sends it again until the mark's lease is over (the send was
lost). Every other check is the tick's."""

from __future__ import annotations

import dataclasses
import time
import uuid
from datetime import timedelta

import pytest

from shared.ledger import Run, RunStatus, now_utc, parse_stamp, stamp
from shared.messages import Stage, StageMessage
from shared.pipeline.dispatched import Dispatched
from shared.pipeline.effects import Pipeline, apply_outcome
from shared.pipeline.outcomes import Wait
from shared.pipeline.poller import poll_due
from shared.queues import CHECKS
from tests.integration.test_poller import a_run

pytestmark = pytest.mark.usefixtures("quiet_index")
LATENCY_SECONDS = 1.0  # the most a loaded queue takes to take a send in


def gated(prefix: str) -> Run:
    """A run waiting for a go-live time years away (so no other test's poller takes it
    anywhere), its check due a second ago; under an id of its own."""
    due = stamp(now_utc() - timedelta(seconds=1))
    return a_run(
        f"{prefix}-{uuid.uuid4().hex[:8]}",
        RunStatus.WAITING,
        Stage.AWAIT_GO_LIVE,
        timedelta(minutes=5),
        target="live",
        not_before="2099-01-01T00:00Z",
        next_check_at=due,
    )


def checks_of(pipeline: Pipeline, run_id: str) -> list[StageMessage]:
    """The visible check messages of `run_id`; every visible message is taken off the queue
    (the fixture emptied it: anything else is this test's tick's, for runs not its own)."""
    queue = pipeline.queues.client(CHECKS)
    found = []
    while batch := list(queue.receive_messages(max_messages=32, visibility_timeout=30)):
        for message in batch:
            if run_id.encode() in message.content:
                found.append(StageMessage.model_validate_json(message.content))
            queue.delete_message(message)
    return found


def arriving(pipeline: Pipeline, run_id: str, due: str) -> list[StageMessage]:
    """The check messages of `run_id` once they show: the queue counts a delay's whole
    seconds from its own receipt of the send, so a check can show a request's latency after
    its time (the check holds when early, never when late); wait that long at most."""
    time.sleep(max(0.0, (parse_stamp(due) - now_utc()).total_seconds()))
    deadline = time.monotonic() + LATENCY_SECONDS
    while not (found := checks_of(pipeline, run_id)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


def test_a_check_due_before_a_tick_is_sent_by_its_write_and_by_no_tick(
    pipeline: Pipeline,
) -> None:
    pipeline = dataclasses.replace(pipeline, budget=None, dispatched=Dispatched())
    assert pipeline.stage_deps.poll_seconds > 0.5
    made = gated("sent")
    assert pipeline.ledger.create(made)
    run = pipeline.ledger.get(made.run_id)
    assert run is not None
    soon = Wait(check=Stage.AWAIT_GO_LIVE, delay_seconds=0.5, reason="aimed", aimed=True)
    run = apply_outcome(pipeline, run, Stage.AWAIT_GO_LIVE, soon, 0)
    row = pipeline.ledger.index.get(run.run_id)
    assert row is not None and row.check_sent == row.next_check_at == run.next_check_at
    poll_due(pipeline)  # the tick leaves it: it is on its way
    (sent,) = checks_of(pipeline, run.run_id)
    assert sent.check_at == run.next_check_at
    time.sleep(0.6)  # due now: a mark whose lease (counted from then) is over says nothing
    lost = dataclasses.replace(pipeline, dispatched=Dispatched(lease_seconds=0))
    poll_due(lost)  # as if that message had been lost: the tick sends it
    assert [m.check_at for m in checks_of(pipeline, run.run_id)] == [run.next_check_at]


@pytest.mark.parametrize(
    "wait",
    [
        Wait(check=Stage.AWAIT_GO_LIVE, delay_seconds=0.5),  # plain: the tick's, in its order
        Wait(check=Stage.AWAIT_GO_LIVE, delay_seconds=1.5, aimed=True),  # a tick comes first
    ],
)
def test_other_checks_are_left_to_the_tick(pipeline: Pipeline, wait: Wait) -> None:
    pipeline = dataclasses.replace(pipeline, budget=None, dispatched=Dispatched())
    assert pipeline.stage_deps.poll_seconds <= 1.5
    made = gated("tick")
    run_id = made.run_id
    assert pipeline.ledger.create(made)
    run = pipeline.ledger.get(run_id)
    assert run is not None
    run = apply_outcome(pipeline, run, Stage.AWAIT_GO_LIVE, wait, 0)
    row = pipeline.ledger.index.get(run_id)
    assert row is not None and row.check_sent == "" and row.next_check_at == run.next_check_at
    assert checks_of(pipeline, run_id) == []
    following = {"Next": (now_utc() + timedelta(seconds=2)).isoformat()}
    poll_due(pipeline, schedule_status=following)  # due before the next tick: this one sends it
    sent = arriving(pipeline, run_id, run.next_check_at or "")
    assert [m.check_at for m in sent] == [run.next_check_at]
