"""The simulator over its real HTTPS socket: the Azure Storage SDK uploads a package to the
fileSasUri it hands out, and injected resets and delays reach the client as a network would."""

from __future__ import annotations

import socket
import ssl
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from azure.storage.blob import BlobClient

from pcsim.admin import SimulatorClient
from shared.partnercenter.transport import tls_verify


def new_package(admin: SimulatorClient, product_id: str, name: str) -> dict[str, Any]:
    response = admin.http.post(
        f"{admin.config['ingestionBaseUrl']}/products/{product_id}/packages",
        json={"resourceType": "AzureApplicationPackage", "fileName": name},
        headers={
            "Authorization": "Bearer "
            + admin.token(admin.config["clientId"], admin.config["clientSecret"])
        },
    )
    assert response.status_code == 201
    package: dict[str, Any] = response.json()
    return package


@pytest.mark.parametrize("size", [10_000, 300_000])
def test_storage_sdk_uploads_to_the_sas_uri(
    admin: SimulatorClient, sim_config: dict[str, Any], size: int
) -> None:
    product_id = sim_config["offers"][1]["productId"]
    package = new_package(admin, product_id, f"app-{size}.zip")
    # A small single-put limit makes the larger file go up in blocks, as big packages do.
    blob = BlobClient.from_blob_url(
        package["fileSasUri"],
        connection_verify=sim_config["caCertPath"],
        max_single_put_size=100_000,
        max_block_size=64_000,
    )
    with blob:
        blob.upload_blob(b"x" * size, overwrite=True)
    response = admin.ingestion("GET", f"products/{product_id}/packages/{package['id']}")
    assert response.json()["fileSize"] == size


def test_reset_and_latency_over_the_socket(
    admin: SimulatorClient, sim_config: dict[str, Any]
) -> None:
    admin.http.put(
        f"{sim_config['adminUrl']}/faults",
        json={"rules": [{"path": "/products$", "reset": True}], "latencyMs": 300},
    ).raise_for_status()
    token = admin.token(sim_config["clientId"], sim_config["clientSecret"])
    with httpx.Client(verify=tls_verify(sim_config["caCertPath"])) as http:
        url = f"{sim_config['ingestionBaseUrl']}/products"
        headers = {"Authorization": f"Bearer {token}"}
        with pytest.raises(httpx.TransportError):
            http.get(url, headers=headers)
        slow = http.get(url, headers=headers)
    assert slow.status_code == 200
    assert slow.elapsed.total_seconds() >= 0.3


def test_a_burst_of_calls_is_answered_at_once_not_queued_behind_a_thread_pool(
    admin: SimulatorClient, sim_config: dict[str, Any]
) -> None:
    """The live service takes a tenant's many calls in flight together (within the rate
    limit): sixty slow calls sent at once are all in the simulator's hands at one moment,
    where anyio's default pool of 40 worker threads held the rest back."""
    admin.set_faults(latencyMs=1500)
    token = admin.token(sim_config["clientId"], sim_config["clientSecret"])
    url = f"{sim_config['ingestionBaseUrl']}/products"
    limits = httpx.Limits(max_connections=100)
    headers = {"Authorization": f"Bearer {token}"}
    with (
        httpx.Client(verify=tls_verify(sim_config["caCertPath"]), limits=limits) as http,
        ThreadPoolExecutor(max_workers=60) as pool,
    ):
        answers = list(pool.map(lambda _: http.get(url, headers=headers), range(60)))
    assert [a.status_code for a in answers] == [200] * 60
    stats = admin.http.get(f"{sim_config['adminUrl']}/stats").json()
    assert stats["peakConcurrency"] >= 55


@pytest.mark.parametrize("host", [b"l\xffocalhost", b"localhost:notaport", b"exa\x7fmple"])
def test_a_host_header_no_url_can_hold_is_a_400(sim_config: dict[str, Any], host: bytes) -> None:
    """As the service's front end answers: a byte past ASCII in the Host header raised
    decoding it, and a port that is no number raised building the request (500s)."""
    where = urlsplit(sim_config["ingestionBaseUrl"])
    assert where.hostname and where.port
    tls = ssl.create_default_context(cafile=sim_config["caCertPath"])
    with tls.wrap_socket(
        socket.create_connection((where.hostname, where.port), timeout=10),
        server_hostname=where.hostname,
    ) as conn:
        conn.sendall(b"GET /v1.0/ingestion/products HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
        status = conn.recv(4096).split(b"\r\n")[0]
    assert status == b"HTTP/1.1 400 Bad Request"
