"""An HTTPS endpoint on loopback that records what it is sent (a webhook or Teams receiver),
served with the simulator's certificate, so the app's CA bundle already trusts it."""

from __future__ import annotations

import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class Receiver:
    def __init__(self, ca_path: str | Path, status: int = 200) -> None:
        self.status = status
        self.trickle = 0.0  # seconds to send the answer's headers in, a byte at a time
        self.answer = b""  # the answer's body
        self.body_trickle = 0.0  # seconds to send the body in after the headers, as above
        self.connections = 0  # connections accepted (posts over kept-alive ones share one)
        self.got: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # connections kept alive, as real receivers do

            def setup(self) -> None:
                super().setup()
                owner.connections += 1

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.got.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if owner.trickle:
                    self._trickle(owner.trickle)
                self.send_response(owner.status)
                length = len(owner.answer) + (64 if owner.body_trickle else 0)
                self.send_header("Content-Length", str(length))
                self.end_headers()
                self.wfile.write(owner.answer)
                if owner.body_trickle:
                    self._slowly(owner.body_trickle, most=64)

            def _trickle(self, seconds: float) -> None:
                """A slow receiver: never silent long enough for a read to time out."""
                self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                self._slowly(seconds)
                self.wfile.write(b"\r\n")

            def _slowly(self, seconds: float, most: int | None = None) -> None:
                until, sent = time.monotonic() + seconds, 0
                while time.monotonic() < until and (most is None or sent < most):
                    self.wfile.write(b"z")
                    self.wfile.flush()
                    sent += 1
                    time.sleep(0.2)

            def log_message(self, *args: Any) -> None:
                pass

        tls = Path(ca_path).parent
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tls / "server.pem", tls / "server.key")
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._server.server_address[1]}/hook?sig=token-in-url"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
