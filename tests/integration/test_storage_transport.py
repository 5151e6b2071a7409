"""The storage SDKs on the pooled urllib3 transport, against Azurite and loopback sockets: what
the ledger and the queues rely on (conditional writes, paging, batches, base64 messages) works
as on the SDK's own transport, and failures reach the SDKs' retry policies as the same
azure-core errors."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from azure.core import MatchConditions
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseTimeoutError,
)
from azure.core.rest import HttpRequest
from azure.data.tables import TableClient, TableServiceClient, UpdateMode
from azure.storage.queue import QueueClient
from azure.storage.queue._shared import constants as queue_constants

from pcpub.azurite import ACCOUNT, DEV_KEY, AzuritePorts
from shared.queues import queue_client_kwargs
from shared.storage import transport_options
from shared.storage_transport import CONNECTION_TIMEOUT, READ_TIMEOUT, PooledTransport


@pytest.fixture
def table(azurite: AzuritePorts) -> Iterator[TableClient]:
    service = TableServiceClient.from_connection_string(
        azurite.connection_string, transport=PooledTransport.create()
    )
    client = service.create_table(f"pooled{uuid.uuid4().hex[:8]}")
    yield client
    client.delete_table()


def test_the_ledger_s_table_operations_on_the_pooled_transport(table: TableClient) -> None:
    table.create_entity({"PartitionKey": "run", "RowKey": "a", "data": "é" * 300})
    with pytest.raises(ResourceExistsError):
        table.create_entity({"PartitionKey": "run", "RowKey": "a"})
    read = table.get_entity("run", "a")
    assert read["data"] == "é" * 300
    fresh = table.update_entity(
        {**read, "data": "b"},
        mode=UpdateMode.REPLACE,
        etag=read.metadata["etag"],
        match_condition=MatchConditions.IfNotModified,
    )
    assert fresh["etag"] != read.metadata["etag"]
    with pytest.raises(ResourceModifiedError):  # the stale ETag: a conditional write lost
        table.update_entity(
            {**read, "data": "c"},
            mode=UpdateMode.REPLACE,
            etag=read.metadata["etag"],
            match_condition=MatchConditions.IfNotModified,
        )
    with pytest.raises(ResourceNotFoundError):
        table.get_entity("run", "missing")
    assert table.get_entity("run", "a")["data"] == "b"


def test_batches_and_pages_beyond_a_thousand_rows(table: TableClient) -> None:
    """A transaction's multipart body goes out whole, and a query's continuation headers
    are read back (Table storage answers at most 1,000 rows a page)."""
    for start in range(0, 1005, 100):
        table.submit_transaction(
            [
                ("upsert", {"PartitionKey": "p", "RowKey": f"{i:05d}"})
                for i in range(start, min(start + 100, 1005))
            ]
        )
    keys = [e["RowKey"] for e in table.query_entities("PartitionKey eq 'p'")]
    assert keys == [f"{i:05d}" for i in range(1005)]


def test_base64_queue_messages_round_trip(azurite: AzuritePorts) -> None:
    queue = QueueClient.from_connection_string(
        azurite.connection_string,
        f"pooled-{uuid.uuid4().hex[:8]}",
        transport=PooledTransport.create(),
        **queue_client_kwargs(),
    )
    queue.create_queue()
    queue.send_message('{"runId": "ü"}', visibility_timeout=0)
    (message,) = queue.receive_messages(max_messages=5, visibility_timeout=30)
    assert message.content == '{"runId": "ü"}'.encode()
    assert message.dequeue_count == 1
    queue.update_message(message.id, message.pop_receipt, visibility_timeout=0)
    again = next(iter(queue.receive_messages(max_messages=1)))
    assert again.dequeue_count == 2
    queue.delete_message(again)
    assert list(queue.peek_messages(max_messages=5)) == []
    queue.delete_queue()


def test_one_pool_serves_many_threads(table: TableClient) -> None:
    """The host's invocations share the clients: 200 writes from 32 threads, none lost."""

    def write(i: int) -> None:
        table.upsert_entity({"PartitionKey": "t", "RowKey": f"{i:03d}", "n": i})

    with ThreadPoolExecutor(max_workers=32) as pool:
        list(pool.map(write, range(200)))
    assert len(list(table.query_entities("PartitionKey eq 't'"))) == 200


def _client(port: int, read_timeout: float = READ_TIMEOUT) -> TableClient:
    return TableClient(
        f"http://127.0.0.1:{port}/{ACCOUNT}",
        "pcruns",
        credential=AzureNamedKeyCredential(ACCOUNT, DEV_KEY),
        transport=PooledTransport.create(read_timeout=read_timeout),
        retry_total=0,
    )


def test_a_closed_port_is_a_request_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: the connection is refused
        with pytest.raises(ServiceRequestError):
            _client(port).get_entity("run", "a")


@pytest.mark.parametrize("per_call", [True, False])
def test_a_silent_server_is_a_response_timeout(per_call: bool) -> None:
    """Accepted and never answered: the read timeout fires, as the SDK's retry expects; the
    call's own, or else the transport's (the storage SDK's 60 s, not azure-core's 300 s)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    held: list[socket.socket] = []
    accepting = threading.Thread(target=lambda: held.append(server.accept()[0]), daemon=True)
    accepting.start()
    started = time.monotonic()
    try:
        client = _client(server.getsockname()[1], READ_TIMEOUT if per_call else 0.5)
        call_options: dict[str, Any] = {"read_timeout": 0.5} if per_call else {}
        with pytest.raises(ServiceResponseTimeoutError):
            client.get_entity("run", "a", **call_options)
        assert time.monotonic() - started < 5
    finally:
        for conn in held:
            conn.close()
        server.close()


def test_unanswered_storage_requests_give_up_as_the_storage_sdk_s_own_would() -> None:
    assert PooledTransport.create().timeouts == (CONNECTION_TIMEOUT, READ_TIMEOUT)
    assert (CONNECTION_TIMEOUT, READ_TIMEOUT) == (
        queue_constants.CONNECTION_TIMEOUT,
        queue_constants.READ_TIMEOUT,
    )


def test_proxies_stay_with_the_sdk_s_own_transport(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert isinstance(transport_options()["transport"], PooledTransport)
    with pytest.raises(ValueError, match="proxy"):
        PooledTransport.create().send(
            HttpRequest("GET", "http://127.0.0.1:9/"), proxies={"http": "http://127.0.0.1:9"}
        )
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    assert transport_options() == {}
