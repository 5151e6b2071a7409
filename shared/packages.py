"""Package files: read from where the request points (a blob in the app's own staging
container, or a blob URL on an allowed host) and uploaded to the SAS URI Partner Center hands
out, with the Azure Storage SDK (which switches to block uploads for large files). The SAS
upload carries no bearer token: only the URI's own signature.

`check` runs before any package slot is created at Partner Center: a source that is refused,
missing, empty or too large ends the run without leaving an orphan package behind.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.storage.blob import BlobClient

from shared.partnercenter.errors import MalformedAnswer, UploadRefused
from shared.publish_request import PackageSource, host_allowed
from shared.settings import Settings
from shared.storage import blob_service


class PackageSourceRefused(Exception):
    """The package source may not be used, or cannot be: the message says which and why."""


class BlobPackageFiles:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def _tls(self) -> dict[str, Any]:
        ca = self._settings.ca_bundle
        return {"connection_verify": ca} if ca else {}

    def _where(self, source: PackageSource) -> str:
        if source.staged:
            return f"staged blob {source.staged!r}"
        return f"package URL on host {urlsplit(source.url or '').hostname!r}"

    def _allowed_url(self, source: PackageSource) -> str:
        assert source.url
        host = (urlsplit(source.url).hostname or "").lower()
        if urlsplit(source.url).username is not None or not source.url.startswith("https://"):
            raise PackageSourceRefused("package URL must be https without user information")
        if not host_allowed(host, self._settings.package_url_hosts):
            raise PackageSourceRefused(f"package host {host!r} is not allowed (PACKAGE_URL_HOSTS)")
        return source.url

    def check(self, source: PackageSource) -> int:
        """The file's size, once it is known to exist, be allowed and fit the limit."""
        try:
            if source.staged:
                with blob_service(self._settings) as service:
                    blob = service.get_blob_client(
                        self._settings.package_staging_container, source.staged
                    )
                    size = int(blob.get_blob_properties().size)
            else:
                with BlobClient.from_blob_url(self._allowed_url(source), **self._tls()) as client:
                    size = int(client.get_blob_properties().size)
        except ResourceNotFoundError:
            raise PackageSourceRefused(f"{self._where(source)} does not exist") from None
        except HttpResponseError as exc:  # refused (403, 400...); a lost connection is retried
            raise PackageSourceRefused(
                f"{self._where(source)} cannot be read: {exc.status_code} {exc.reason}"
            ) from None
        if size == 0:
            raise PackageSourceRefused(f"{self._where(source)} is empty")
        if size > self._settings.package_max_bytes:
            raise PackageSourceRefused(
                f"{self._where(source)} is {size} bytes; the limit is "
                f"{self._settings.package_max_bytes} (PACKAGE_MAX_BYTES)"
            )
        return size

    def read(self, source: PackageSource) -> bytes:
        """The file, read no further than the limit `check` held it to: a blob replaced by a
        larger one since (a build that re-staged it, or a host that swaps what it serves)
        is refused, never read into memory whole."""
        limit = self._settings.package_max_bytes
        if source.staged:
            with blob_service(self._settings) as service:
                blob = service.get_blob_client(
                    self._settings.package_staging_container, source.staged
                )
                data = blob.download_blob(offset=0, length=limit + 1).readall()
        else:
            with BlobClient.from_blob_url(self._allowed_url(source), **self._tls()) as client:
                data = client.download_blob(offset=0, length=limit + 1).readall()
        if len(data) > limit:
            raise PackageSourceRefused(
                f"{self._where(source)} grew past the limit of {limit} bytes "
                "(PACKAGE_MAX_BYTES) after it was checked"
            )
        return data

    def upload(self, sas_uri: str, data: bytes) -> None:
        """Put the file at Partner Center's upload URI, if it lies on an allowed origin (it
        carries the publisher's app: never to another host, never in the clear)."""
        if not origin_allowed(sas_uri, self._settings.upload_origins):
            raise UploadRefused(
                f"Partner Center gave an upload URI on {origin_of(sas_uri)!r}, not on an "
                "allowed origin (PC_UPLOAD_ORIGINS): nothing was uploaded"
            )
        try:
            blob = BlobClient.from_blob_url(sas_uri, **self._tls())
        except ValueError:  # no container or no blob in its path: the SDK's ValueError
            raise MalformedAnswer(
                f"Partner Center gave an upload URI on {origin_of(sas_uri)!r} that names no "
                "blob: nothing was uploaded"
            ) from None
        with blob:
            blob.upload_blob(data, overwrite=True)


def origin_of(url: str) -> str:
    """scheme://host[:port] of `url`, nothing after it (a SAS URI's path and signature stay
    out of reasons and logs)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        port = ":?"
    return f"{parts.scheme}://{host}{port}"[:200]


def origin_allowed(url: str, origins: tuple[str, ...]) -> bool:
    """`url` is on one of `origins` (`scheme://host[:port]`; a host `*.suffix` matches every
    host under the suffix; no port means the scheme's own) and carries no user information."""
    parts = urlsplit(url)
    try:
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return False
    if parts.username is not None or not parts.hostname:
        return False
    host = parts.hostname.lower()
    for origin in origins:
        allowed = urlsplit(origin.strip().lower())
        want = allowed.hostname or ""
        if (
            allowed.scheme != parts.scheme
            or (allowed.port or _DEFAULT_PORTS.get(allowed.scheme)) != port
        ):
            continue
        if host == want or (want.startswith("*.") and host.endswith(want[1:])):
            return True
    return False


_DEFAULT_PORTS = {"https": 443, "http": 80}
