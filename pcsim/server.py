"""Serving the simulator over HTTPS on one loopback port, and describing it to its clients.

The port is bound before anything is written, so a caller that asked for port 0 learns the real
one from the config file; the CA is generated at start (trustme) unless a certificate is given.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import ssl
import tempfile
import threading
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx

from pcsim.app import INGESTION, ConnectionReset, Simulator
from pcsim.contract import Contract
from pcsim.live import PRODUCT_INGESTION
from pcsim.sas_store import SasStore
from pcsim.seed import DEFAULT_SEED
from pcsim.timing import Profile
from pcsim.world import World

HOST = "127.0.0.1"


HANDLER_THREADS = 512  # calls handled at once (anyio's default, 40, queued a burst's calls)
TRICKLE_BYTES = 16  # an answer trickled (a fault) goes in pieces of this many bytes


class AsgiAdapter:
    """Runs the request handler behind uvicorn (in a worker thread: the handler blocks, for
    its latency too). The live service answers a tenant's hundred calls in flight as fast as
    one, within the rate limit: the workers are many, so a burst is not queued behind a
    stand-in's thread pool that the real service does not have (anyio's default of 40 put
    0.1-0.4 s before a submission's parallel reads)."""

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator
        self._limiter: anyio.CapacityLimiter | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                event = await receive()
                if event["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif event["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            event = await receive()
            body += event.get("body", b"")
            if not event.get("more_body"):
                break
        request = _request(scope, body)
        if request is None:  # as the service's front end refuses a host no URL can hold
            await send(
                {
                    "type": "http.response.start",
                    "status": 400,
                    "headers": [
                        (b"content-type", b"text/html"),
                        (b"content-length", b"%d" % len(BAD_HOST)),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": BAD_HOST})
            return
        try:
            if self._limiter is None:  # made in the event loop, on its first request
                self._limiter = anyio.CapacityLimiter(HANDLER_THREADS)
            response = await anyio.to_thread.run_sync(
                self.simulator.handle, request, limiter=self._limiter
            )
        except ConnectionReset:
            # Start a response, then fail: uvicorn closes the socket mid-answer, which the
            # client sees as the connection dropping.
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", b"1000")],
                }
            )
            raise
        headers = [
            (k.encode(), v.encode())
            for k, v in response.headers.items()
            if k.lower() not in ("content-length", "transfer-encoding")
        ]
        headers.append((b"content-length", str(len(response.content)).encode()))
        await send(
            {"type": "http.response.start", "status": response.status_code, "headers": headers}
        )
        await _body(send, response.content, float(response.extensions.get("trickle", 0.0)))


BAD_HOST = (
    b"<h2>Bad Request - Invalid Hostname</h2><hr>"
    b"<p>HTTP Error 400. The request hostname is invalid.</p>"
)


def _request(scope: dict[str, Any], body: bytes) -> httpx.Request | None:
    """The request as the handler reads it; None when its Host header (or what uvicorn let
    through of its target) makes no URL: a byte past ASCII in the host raised decoding it."""
    raw_path = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string", b"")
    try:
        host = dict(scope["headers"]).get(b"host", b"localhost").decode("ascii")
        url = f"{scope['scheme']}://{host}{raw_path.decode('ascii')}"
        if query:
            url += "?" + query.decode("ascii")
        return httpx.Request(scope["method"], url, headers=scope["headers"], content=body)
    except (UnicodeDecodeError, httpx.InvalidURL):
        return None


async def _body(send: Any, content: bytes, over: float) -> None:
    """Send an answer's body: at once, or (a trickle fault) a few bytes at a time over `over`
    seconds."""
    pieces = [content[i : i + TRICKLE_BYTES] for i in range(0, len(content), TRICKLE_BYTES)]
    if not over or len(pieces) < 2:
        await send({"type": "http.response.body", "body": content})
        return
    for index, piece in enumerate(pieces):
        last = index == len(pieces) - 1
        await send({"type": "http.response.body", "body": piece, "more_body": not last})
        if not last:
            await anyio.sleep(over / len(pieces))


class _QuietResets(logging.Filter):
    """Injected resets are intended; don't log them as application errors."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ConnectionReset))


def load_seed(path: str | None) -> dict[str, Any]:
    if not path:
        copy: dict[str, Any] = json.loads(json.dumps(DEFAULT_SEED))
        return copy
    try:
        seed = json.loads(Path(path).read_text())
    except ValueError as exc:
        raise ValueError(f"seed {path} is not JSON: {exc}") from None
    if not isinstance(seed, dict):
        raise ValueError(f"seed {path} is not a JSON object")
    for key, value in DEFAULT_SEED.items():
        seed.setdefault(key, value)
    return seed


def _world(seed_path: str | None, profile: str) -> World:
    """The world a seed describes; a seed of another shape is a ValueError naming it."""
    seed = load_seed(seed_path)
    try:
        return World(seed, Profile.named(profile))
    except (TypeError, KeyError, AttributeError, ValueError) as exc:
        raise ValueError(f"seed {seed_path} is not of the seed's shape: {exc!r}") from None


def make_tls(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for localhost, 127.0.0.1 and ::1."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1", "::1")
    ca_path, cert_path, key_path = (directory / n for n in ("ca.pem", "server.pem", "server.key"))
    ca.cert_pem.write_to_path(str(ca_path))
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    return ca_path, cert_path, key_path


def describe(simulator: Simulator, base_url: str, ca_path: Path | None) -> dict[str, Any]:
    """The config other tools drive the simulator with (`--write-config`)."""
    world = simulator.world
    publisher = next(a for a in world.apps.values() if a.vault_secret_name)
    identity = next(
        (a for a in world.apps.values() if "https://vault.azure.net" in a.audiences), None
    )
    return {
        "ingestionBaseUrl": f"{base_url}{INGESTION}",
        "productIngestionUrl": f"{base_url}{PRODUCT_INGESTION}",
        "authorityHost": base_url,
        "vaultUrl": base_url,
        "adminUrl": f"{base_url}/_admin",
        "caCertPath": str(ca_path) if ca_path else None,
        "tenantId": world.tenant_id,
        "clientId": publisher.client_id,
        "clientSecret": publisher.secret,
        "secretName": publisher.vault_secret_name,
        "identityClientId": identity.client_id if identity else None,
        "identityClientSecret": identity.secret if identity else None,
        "offers": world.offers_config(),
        # Where its fileSasUri point: its own blob endpoint, and a blob store beside it.
        "uploadOrigins": [base_url, *([simulator.sas_store.origin] if simulator.sas_store else [])],
    }


def write_json_atomic(path: str | Path, data: dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2)
        os.chmod(tmp, 0o600)  # it holds the stand-in apps' secrets
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)  # no stray copy of the secrets beside it
        raise


def serve(
    *,
    port: int = 0,
    seed_path: str | None = None,
    profile: str = "fast",
    tls_cert: str | None = None,
    tls_key: str | None = None,
    write_config: str | None = None,
    state_dir: str | None = None,
    ready: threading.Event | None = None,
    token_lifetime: int = 3600,
    contract: str | None = None,
    blob_connection_string: str | None = None,
) -> None:
    """Run the simulator in the foreground until interrupted. Without `state_dir`, the
    certificates it makes (the server's private key among them) are kept in a directory of its
    own, removed when it stops: they serve no one once it no longer listens."""
    import uvicorn

    world = _world(seed_path, profile)  # what it is given is checked before it listens
    with contextlib.ExitStack() as cleanup:
        ca_path: Path | None = None
        if tls_cert and tls_key:
            cert_path, key_path = Path(tls_cert), Path(tls_key)
            try:
                context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                context.load_cert_chain(cert_path, key_path)
            except (OSError, ssl.SSLError) as exc:
                raise ValueError(f"--tls-cert/--tls-key {tls_cert}, {tls_key}: {exc}") from None
        else:
            if not state_dir:
                state_dir = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="pcpub-sim-"))
            directory = Path(state_dir)
            directory.mkdir(parents=True, exist_ok=True)
            ca_path, cert_path, key_path = make_tls(directory)
        checker = Contract(Path(contract)) if contract else None
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
            sock.listen(128)
        except OSError:
            sock.close()
            raise
        port = sock.getsockname()[1]
        base_url = f"https://localhost:{port}"
        simulator = Simulator(world, base_url, checker)
        simulator.token_lifetime = token_lifetime
        if blob_connection_string:
            simulator.sas_store = SasStore(blob_connection_string)
        logging.getLogger("uvicorn.error").addFilter(_QuietResets())
        config = uvicorn.Config(
            AsgiAdapter(simulator),
            ssl_certfile=str(cert_path),
            ssl_keyfile=str(key_path),
            log_level="warning",
            lifespan="off",
            access_log=False,
        )
        server = uvicorn.Server(config)
        description = describe(simulator, base_url, ca_path)
        if write_config:
            write_json_atomic(write_config, description)
        print(
            json.dumps(
                {
                    k: description[k]
                    for k in (
                        "ingestionBaseUrl",
                        "authorityHost",
                        "vaultUrl",
                        "adminUrl",
                        "caCertPath",
                    )
                }
            ),
            flush=True,
        )
        if ready is not None:
            ready.set()
        server.run(sockets=[sock])
