"""The whole stack as processes (Azurite, simulator, local functions host), once per module."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import BlobServiceClient

from pcpub.ops import Storage, enqueue
from pcpub.stack import LocalStack
from pcsim.admin import SimulatorClient
from shared.ledger import Run
from tests.conftest import assert_conforms, reference


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    # A short lease, so a killed host's messages come back in seconds (Azure: 10 minutes).
    with LocalStack(
        tmp_path_factory.mktemp("stack"), profile="fast", lease_seconds=4, contract=reference()
    ) as running:
        yield running
        assert_conforms(running.sim_config)


@pytest.fixture(scope="module")
def storage(stack: LocalStack) -> Storage:
    return Storage(stack.connection_string)


@pytest.fixture(scope="module")
def admin(stack: LocalStack) -> Iterator[SimulatorClient]:
    client = SimulatorClient(stack.sim_config)
    yield client
    client.close()


def stage_package(stack: LocalStack, name: str, data: bytes) -> None:
    """Put a package file in the app's staging container, as a build pipeline would."""
    with BlobServiceClient.from_connection_string(stack.connection_string) as service:
        container = service.get_container_client("package-staging")
        with contextlib.suppress(ResourceExistsError):
            container.create_container()
        container.upload_blob(name, data, overwrite=True)


def publish(storage: Storage, request_id: str, offer: str, target: str, **extra: Any) -> None:
    enqueue(
        storage,
        json.dumps(
            {
                "schemaVersion": 1,
                "requestId": request_id,
                "offer": {"externalId": offer},
                "target": target,
                "labels": {"suite": "e2e"},
                **extra,
            }
        ),
    )


def wait_terminal(storage: Storage, request_id: str, timeout: float = 120) -> Run:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = storage.ledger.get(request_id)
        if run is not None and run.status.terminal:
            return run
        time.sleep(0.25)
    raise AssertionError(f"run {request_id} did not finish: {storage.ledger.get(request_id)}")


def calls_for(admin: SimulatorClient, product_id: str, method: str, suffix: str) -> int:
    return sum(
        1
        for r in admin.requests()
        if r["method"] == method and product_id in r["path"] and r["path"].endswith(suffix)
    )


_seen_events: dict[str, list[dict[str, Any]]] = {}


def events_for(storage: Storage, request_id: str) -> list[dict[str, Any]]:
    """Events for one request, consuming the events queue (as the requesting system would)."""
    client = storage.queue("pc-events")
    while True:
        batch = list(client.receive_messages(max_messages=32, visibility_timeout=30))
        if not batch:
            break
        for message in batch:
            event = json.loads(message.content)
            _seen_events.setdefault(event["requestId"], []).append(event)
            client.delete_message(message)
    return list(_seen_events.get(request_id, []))


def person_submits(admin: SimulatorClient, product: str) -> str:
    """What a person does in Partner Center: submit the offer's current listing draft (the
    portal adds the ResellerConfiguration module)."""

    def instance(module: str) -> str:
        branches = admin.ingestion(
            "GET", f"products/{product}/branches/getByModule(module={module})"
        ).json()["value"]
        return str(next(b for b in branches if not b.get("variantID"))["currentDraftInstanceID"])

    answer = admin.ingestion(
        "POST",
        f"products/{product}/submissions",
        json={
            "resourceType": "SubmissionCreationRequest",
            "targets": [{"type": "Scope", "value": "preview"}],
            "resources": [
                {"type": "Listing", "value": instance("Listing")},
                {"type": "ResellerConfiguration", "value": instance("ResellerConfiguration")},
            ],
            "variantResources": [],
            "publishOption": {"isManualPublish": True, "isAutoPromote": False},
        },
    )
    assert answer.status_code in (200, 201, 202), answer.text
    return str(answer.json()["id"])
