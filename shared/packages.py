"""Package files: read from where the request points (a blob in the app's own staging
container, or a blob URL on an allowed host) and uploaded to the SAS URI Partner Center hands
out, with the Azure Storage SDK (which switches to block uploads for large files). The SAS
upload carries no bearer token: only the URI's own signature."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from azure.storage.blob import BlobClient

from shared.messages import PackageSource
from shared.settings import Settings
from shared.storage import blob_service


class PackageSourceRefused(Exception):
    """The package URL points somewhere the app may not fetch from."""


class BlobPackageFiles:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def _tls(self) -> dict[str, Any]:
        ca = self._settings.ca_bundle
        return {"connection_verify": ca} if ca else {}

    def read(self, source: PackageSource) -> bytes:
        if source.staged:
            with blob_service(self._settings) as service:
                blob = service.get_blob_client(
                    self._settings.package_staging_container, source.staged
                )
                return blob.download_blob().readall()
        assert source.url
        host = (urlsplit(source.url).hostname or "").lower()
        if not any(
            host == h or host.endswith("." + h.lstrip("."))
            for h in self._settings.package_url_hosts
        ):
            raise PackageSourceRefused(f"package host {host!r} is not allowed (PACKAGE_URL_HOSTS)")
        with BlobClient.from_blob_url(source.url, **self._tls()) as blob:
            return blob.download_blob().readall()

    def upload(self, sas_uri: str, data: bytes) -> None:
        with BlobClient.from_blob_url(sas_uri, **self._tls()) as blob:
            blob.upload_blob(data, overwrite=True)
