"""Package files in a real Azure Blob store: when the simulator runs beside Azurite (the local
stack), each package's `fileSasUri` is a real SAS (a real signature, on a real blob endpoint),
as the live service hands out, and the simulator reads the uploaded blob back from there when
the package is marked Uploaded. Standalone it keeps a blob-shaped endpoint of its own."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobSasPermissions, BlobServiceClient, generate_blob_sas

CONTAINER = "partner-center-uploads"


class SasStore:
    def __init__(self, connection_string: str) -> None:
        self._service = BlobServiceClient.from_connection_string(connection_string)
        with contextlib.suppress(ResourceExistsError):
            self._service.create_container(CONTAINER)
        credential = self._service.credential
        self._account = str(credential.account_name)
        self._key = str(credential.account_key)

    @property
    def origin(self) -> str:
        """scheme://host:port of the blob endpoint the SAS URIs point at."""
        url = urlsplit(self._service.url)
        return f"{url.scheme}://{url.netloc}"

    def sas_uri(self, product_id: str, item_id: str, file_name: str) -> str:
        """A write-and-read SAS for one blob, valid for a day."""
        name = f"{product_id}/{item_id}/{file_name}"
        token = generate_blob_sas(
            self._account,
            CONTAINER,
            name,
            account_key=self._key,
            permission=BlobSasPermissions(read=True, create=True, write=True),
            expiry=datetime.now(UTC) + timedelta(days=1),
        )
        blob = self._service.get_blob_client(CONTAINER, name)
        return f"{blob.url}?{token}"

    def size(self, product_id: str, item_id: str, file_name: str) -> int | None:
        """Bytes in the uploaded blob, or None when nothing was uploaded."""
        blob = self._service.get_blob_client(CONTAINER, f"{product_id}/{item_id}/{file_name}")
        try:
            return int(blob.get_blob_properties().size)
        except ResourceNotFoundError:
            return None

    def close(self) -> None:
        self._service.close()
