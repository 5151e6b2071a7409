"""The corpus of bad requests through real queues and the local host: each ends rejected with a
bounded reason the sender can read back, with no Partner Center call where intake can decide,
no poison left unlisted, no offer held and no secret in any log line."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from pcpub.ops import Storage
from pcpub.poison import drop, poison_messages, redrive
from pcpub.stack import LocalStack
from pcsim.admin import SimulatorClient
from shared.ledger import RunStatus
from shared.messages import Stage
from shared.pipeline.intake import rejected_run_id
from shared.publish_request import MAX_REASON, readable_request_id
from shared.queues import PUBLISH_REQUESTS, STAGE_QUEUES, TRIGGERED_QUEUES, poison_queue
from tests.conftest import assert_conforms, reference
from tests.corpus import Case, bad_bodies, base
from tests.e2e.conftest import events_for, publish, wait_terminal


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    # Failed deliveries come back after 1 s, not host.json's 30 s: five of them poison a message.
    with LocalStack(
        tmp_path_factory.mktemp("hostile"),
        profile="fast",
        lease_seconds=4,
        retry_seconds=1,
        contract=reference(),
    ) as running:
        yield running
        assert_conforms(running.sim_config)


def secrets_of(stack: LocalStack) -> list[str]:
    return [stack.sim_config["clientSecret"], stack.sim_config["identityClientSecret"]]


def send_raw(storage: Storage, content: str) -> str:
    """Put exactly `content` on the request queue (as any producer with access could)."""
    return str(storage.queue(PUBLISH_REQUESTS, raw=True).send_message(content).id)


def ingestion_calls(admin: SimulatorClient) -> int:
    return sum(1 for r in admin.requests() if "/v1.0/ingestion" in r["path"])


def test_every_bad_body_is_rejected_readably_and_calls_nothing(
    storage: Storage, admin: SimulatorClient, stack: LocalStack
) -> None:
    secrets = secrets_of(stack)
    cases = [c for c in bad_bodies("hostile", secrets) if c.level != "stage"]
    assert len(cases) >= 60
    calls_before = ingestion_calls(admin)
    sent: list[tuple[Case, str]] = []
    for case in cases:
        content = base64.b64encode(case.body).decode()
        if len(content) > 64 * 1024:  # the queue itself refuses it: the producer hears at once
            with pytest.raises(HttpResponseError, match="RequestBodyTooLarge"):
                send_raw(storage, content)
            continue
        sent.append((case, send_raw(storage, content)))
    assert len(sent) >= 60
    for case, message_id in sent:
        # A body refused before it is parsed has no readable id: its run is the message's.
        readable = None if case.level == "decode" else _readable_id(case.body)
        run = wait_terminal(storage, readable or rejected_run_id(message_id))
        assert run.status is RunStatus.REJECTED, case.name
        assert run.reason and case.reason in run.reason, (case.name, run.reason)
        assert len(run.reason) <= MAX_REASON
        assert not any(s in run.reason for s in secrets), case.name
        assert _event(storage, run.run_id, "rejected", case.reason), case.name
    assert ingestion_calls(admin) == calls_before, "intake decided, yet Partner Center was called"
    # No offer is held: a good request for the corpus's offer goes through at once.
    publish(storage, "hostile-after", "contoso-analytics", "preview")
    assert wait_terminal(storage, "hostile-after").status is RunStatus.SUCCEEDED


def _event(storage: Storage, request_id: str, kind: str, fragment: str) -> bool:
    """Whether the sender got such an event (it follows the ledger write by a moment)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        events = events_for(storage, request_id)
        if any(e["kind"] == kind and fragment in e.get("reason", "") for e in events):
            return True
        time.sleep(0.2)
    return False


def _readable_id(body: bytes) -> str | None:
    try:
        return readable_request_id(json.loads(body))
    except ValueError:
        return None


def test_a_missing_staged_package_leaves_no_package_behind(
    storage: Storage, admin: SimulatorClient, stack: LocalStack
) -> None:
    [case] = [c for c in bad_bodies("hostile-stage", []) if c.level == "stage"]
    send_raw(storage, base64.b64encode(case.body).decode())
    run = wait_terminal(storage, json.loads(case.body)["requestId"])
    assert run.status is RunStatus.REJECTED
    assert run.stage == "upload_package"
    assert "does not exist" in (run.reason or "")
    assert not [r for r in admin.requests() if r["method"] == "POST" and "/packages" in r["path"]]
    publish(storage, "hostile-stage-after", "contoso-analytics", "preview")
    assert wait_terminal(storage, "hostile-stage-after").status is RunStatus.SUCCEEDED


def test_same_id_with_another_payload_is_a_conflict(storage: Storage) -> None:
    first = json.dumps(base("hostile-conflict", labels={"try": "1"}))
    send_raw(storage, base64.b64encode(first.encode()).decode())
    original = wait_terminal(storage, "hostile-conflict")
    assert original.status is RunStatus.SUCCEEDED
    other = json.dumps(base("hostile-conflict", labels={"try": "2"}))
    same = json.dumps(json.loads(first), indent=2)  # another spelling, the same payload
    send_raw(storage, base64.b64encode(other.encode()).decode())
    send_raw(storage, base64.b64encode(same.encode()).decode())
    deadline = time.monotonic() + 30
    kinds: list[str] = []
    while time.monotonic() < deadline and not {"refused", "duplicate"} <= set(kinds):
        events = events_for(storage, "hostile-conflict")
        kinds = [e["kind"] for e in events]
        time.sleep(0.2)
    [conflict] = [e for e in events if e["kind"] == "refused"]
    assert "different payload" in conflict["reason"]
    assert "duplicate" in kinds
    after = storage.ledger.get("hostile-conflict")
    assert after is not None
    assert (after.status, after.labels, after.fingerprint, after.timeline) == (
        original.status,
        original.labels,
        original.fingerprint,
        original.timeline,
    )


def test_undecodable_messages_are_dead_lettered_listed_and_redrivable(
    storage: Storage, stack: LocalStack
) -> None:
    secret = secrets_of(stack)[0]
    sent = {
        (PUBLISH_REQUESTS, "this is not base64 %%%"),
        (PUBLISH_REQUESTS, f"plain text with the secret {secret}"),
        (STAGE_QUEUES[Stage.RESOLVE], "{not base64 either}"),
    }
    for queue, content in sent:
        storage.queue(queue, raw=True).send_message(content)
    hashes = {hashlib.sha256(content.encode()).hexdigest() for _, content in sent}
    letters = _wait_letters(storage, hashes)
    assert {(letter["queue"], letter["sha256"]) for letter in letters} == {
        (queue, hashlib.sha256(content.encode()).hexdigest()) for queue, content in sent
    }
    for letter in letters:
        assert letter["source"] == "dead-letter"
        assert letter["size"] > 0
        assert str(letter["decodeError"]).startswith("not base64")
        assert secret not in json.dumps(letter)
    _assert_no_poison_poison(storage)
    # Re-driven as they were (the masked one without its secret): they fail again, are
    # dead-lettered again, and can then be dropped.
    assert redrive(storage, {str(letter["id"]) for letter in letters}) == 3
    again = _wait_letters(storage, None, want=3)
    assert all(drop(storage, str(letter["id"])) for letter in again)
    assert [p for p in poison_messages(storage) if p["source"] == "dead-letter"] == []
    _assert_no_poison_poison(storage)
    assert secret not in (stack.workdir / "host.log").read_text()


def _wait_letters(
    storage: Storage, hashes: set[str] | None, want: int = 0, timeout: float = 90
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        letters = [p for p in poison_messages(storage) if p["source"] == "dead-letter"]
        if hashes is not None:
            letters = [p for p in letters if p["sha256"] in hashes]
            if len(letters) == len(hashes):
                return letters
        elif len(letters) >= want:
            return letters
        time.sleep(0.5)
    raise AssertionError("the poison messages were not dead-lettered")


def _assert_no_poison_poison(storage: Storage) -> None:
    for queue in TRIGGERED_QUEUES:
        client = storage.queue(poison_queue(poison_queue(queue)), raw=True)
        with contextlib.suppress(ResourceNotFoundError):
            assert list(client.peek_messages(32)) == [], queue


def test_no_secret_in_any_log_line(stack: LocalStack) -> None:
    for name in ("host.log", "simulator.log"):
        text = (stack.workdir / name).read_text()
        for secret in secrets_of(stack):
            assert secret not in text, name
