"""The blob endpoint behind a package's `fileSasUri`: Put Blob (and Put Block / Put Block List,
which the Azure Storage SDK uses for large files), authorised by the SAS signature alone."""

from __future__ import annotations

import base64
import hashlib
import re
import time
from email.utils import formatdate
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from pcsim.app import Route, Simulator
    from pcsim.uploads import ListingImage, Package


def _storage_error(status: int, code: str, message: str) -> httpx.Response:
    body = (
        f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code>'
        f"<Message>{message}</Message></Error>"
    ).encode()
    return httpx.Response(
        status, content=body, headers={"Content-Type": "application/xml", "x-ms-error-code": code}
    )


class Blobs:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def routes(self) -> list[Route]:
        return [("PUT", r"/_blobs/(?P<pid>[^/]+)/(?P<pkg>[^/]+)/(?P<name>[^/]+)", self.put)]

    def _package(
        self, request: httpx.Request, pid: str, pkg: str
    ) -> Package | ListingImage | httpx.Response:
        product = self.sim.world.products.get(pid)
        package = (product.packages.get(pkg) or product.images.get(pkg)) if product else None
        if package is None:
            return _storage_error(404, "BlobNotFound", "The specified blob does not exist.")
        if request.url.params.get("sig") != package.sas_signature:
            return _storage_error(
                403, "AuthenticationFailed", "Server failed to authenticate the request."
            )
        return package

    def put(self, request: httpx.Request, pid: str, pkg: str, name: str) -> httpx.Response:
        package = self._package(request, pid, pkg)
        if isinstance(package, httpx.Response):
            return package
        comp = request.url.params.get("comp")
        if comp == "block":
            package.blocks[request.url.params.get("blockid", "")] = request.content
        elif comp == "blocklist":
            ids = [
                i.decode("utf-8", "replace")
                for i in re.findall(
                    rb"<(?:Latest|Uncommitted|Committed)>([^<]+)</", request.content
                )
            ]
            if any(i not in package.blocks for i in ids):  # as Azure: no block, no blob
                return _storage_error(
                    400, "InvalidBlockList", "The specified block list is invalid."
                )
            data = b"".join(package.blocks[i] for i in ids)
            package.blocks.clear()
            package.uploaded = len(data)
        elif request.headers.get("x-ms-blob-type", "").lower() == "blockblob":
            package.uploaded = len(request.content)
        else:
            return _storage_error(
                400,
                "MissingRequiredHeader",
                "An HTTP header that's mandatory for this request is not "
                "specified: x-ms-blob-type.",
            )
        digest = base64.b64encode(hashlib.md5(request.content).digest()).decode()
        return httpx.Response(
            201,
            headers={
                "ETag": f'"0x{int(time.time() * 1e6):X}"',
                "Last-Modified": formatdate(usegmt=True),
                "Content-MD5": digest,
                "x-ms-request-server-encrypted": "true",
                "x-ms-version": request.headers.get("x-ms-version", "2020-08-04"),
                "x-ms-request-id": hashlib.sha1(request.content).hexdigest(),
            },
        )
