"""Polls that go where answers come, through the real host and queues: once five runs of an
offer type have waited for certification, the next one skips the polls of the part of its
wait in which none of theirs ended, and still sees its preview as soon as they did."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator

import pytest

from pcpub.ops import Storage
from pcpub.stack import LocalStack
from pcsim.admin import SimulatorClient
from shared.ledger import Run, parse_stamp
from shared.wait_history import PARTITION
from tests.e2e.conftest import calls_for, publish, wait_terminal

CERTIFY = 4.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    settings = {"PC_STATUS_POLL_LEARN": "true"}  # off in the local stack unless asked
    with LocalStack(
        tmp_path_factory.mktemp("learned"), profile="fast", extra_settings=settings
    ) as running:
        yield running


def polls(admin: SimulatorClient, run: Run) -> int:
    assert run.product_id and run.submission_id
    return calls_for(admin, run.product_id, "GET", f"/submissions/{run.submission_id}")


def waited(run: Run) -> float:
    (record,) = [r for r in run.timeline if r.stage == "await_preview"]
    assert record.ended
    return (parse_stamp(record.ended) - parse_stamp(record.started)).total_seconds()


def test_a_wait_of_a_known_kind_is_polled_where_its_kind_ends(stack: LocalStack) -> None:
    storage = Storage(stack.connection_string)
    admin = SimulatorClient(stack.sim_config)
    admin.admin_put("timings", {"accept": 0.5, "certify": CERTIFY, "publish": 1.0})
    offers = [f"learn-{n}" for n in range(6)]
    for offer in offers:
        admin.add_offer(offer, ["basic"])
    for offer in offers[:5]:
        publish(storage, f"run-{offer}", offer, "preview")
    first = [wait_terminal(storage, f"run-{offer}") for offer in offers[:5]]
    assert {str(r.status) for r in first} == {"succeeded"}
    kinds = {
        str(row["RowKey"]).rsplit(":", 1)[0]
        for row in storage.ledger.table().query_entities(
            "PartitionKey eq @p", parameters={"p": PARTITION}
        )
    }
    assert kinds == {f"{first[0].offer_type}.await_preview"}
    time.sleep(11)  # every instance reads the history anew (ten poll intervals)
    publish(storage, "run-learn-5", offers[5], "preview")
    last = wait_terminal(storage, "run-learn-5")
    assert str(last.status) == "succeeded"
    before = [polls(admin, r) for r in first]
    assert min(before) >= 4  # a poll a second through a wait of about 4.5 s
    assert polls(admin, last) < min(before)
    assert polls(admin, last) <= 3  # one near 80% of the shortest wait seen, then a second
    assert waited(last) <= max(waited(r) for r in first) + 1.0
    assert statistics.median(waited(r) for r in first) > CERTIFY
    admin.close()
