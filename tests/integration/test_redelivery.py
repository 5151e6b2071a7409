"""Every message of a run delivered twice, and every poller tick run twice at once: still one
package, one submission and one promote (real SDKs on Azurite and the simulator)."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobServiceClient

from pcpub.azurite import AzuritePorts
from pcsim.admin import SimulatorClient
from shared.ledger import RunStatus
from shared.messages import Stage
from shared.pipeline.checks import handle_check_message
from shared.pipeline.effects import Pipeline
from shared.pipeline.intake import accept_request
from shared.pipeline.poller import poll_due
from shared.pipeline.runner import handle_stage_message
from shared.queues import CHECKS, STAGE_QUEUES


def test_everything_twice(
    pipeline: Pipeline, azurite: AzuritePorts, admin: SimulatorClient
) -> None:
    product_id = admin.add_offer("twice", ["basic"])["id"]
    with BlobServiceClient.from_connection_string(azurite.connection_string) as blobs:
        container = blobs.get_container_client("package-staging")
        if not container.exists():
            container.create_container()
        container.upload_blob("twice.zip", b"PK\x03\x04twice", overwrite=True)
    body = json.dumps(
        {
            "schemaVersion": 1,
            "requestId": "twice-1",
            "offer": {"externalId": "twice"},
            "target": "live",
            "changes": {
                "listing": {"title": "Twice"},
                "plans": {
                    "basic": {
                        "technicalConfiguration": {
                            "version": "1.0.1",
                            "package": {"staged": "twice.zip"},
                        }
                    }
                },
            },
        }
    )
    accept_request(pipeline, body, "m-1")
    accept_request(pipeline, body, "m-2")  # the request itself, twice
    deadline = time.monotonic() + 60
    with ThreadPoolExecutor(max_workers=2) as pool:
        while time.monotonic() < deadline:
            list(pool.map(lambda _: poll_due(pipeline), range(2)))
            for stage, queue in [*STAGE_QUEUES.items(), (None, CHECKS)]:
                client = pipeline.queues.client(queue)
                try:
                    messages = list(client.receive_messages(max_messages=32, visibility_timeout=5))
                except ResourceNotFoundError:
                    continue  # nothing sent there yet
                handle = (
                    partial(handle_check_message, pipeline)
                    if stage is None
                    else partial(handle_stage_message, pipeline, stage)
                )
                for message in messages:
                    text = message.content.decode()
                    deliveries = [pool.submit(handle, text) for _ in range(2)]  # two at once
                    for delivery in deliveries:
                        delivery.result()
                    handle(text)  # and a late third
                    client.delete_message(message)
            run = pipeline.ledger.get("twice-1")
            assert run is not None
            if run.status.terminal:
                break
            time.sleep(0.3)
    run = pipeline.ledger.get("twice-1")
    assert run is not None
    assert run.status is RunStatus.SUCCEEDED, run.reason
    assert run.stage == Stage.COMPLETE
    log = admin.requests()

    def posts(suffix: str) -> int:
        return sum(
            1
            for r in log
            if r["method"] == "POST"
            and product_id in r["path"]
            and r["path"].endswith(suffix)
            and r["status"] < 400
        )

    assert posts("/packages") == 1
    assert posts("/submissions") == 1
    assert posts("/promote") == 1
