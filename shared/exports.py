"""Exported offers: the request an export run writes, as a blob of the app's own storage
(container `pc-exports`), where `pcpub export` downloads it with the operator's access."""

from __future__ import annotations

from shared.settings import Settings
from shared.storage import blob_service

EXPORTS_CONTAINER = "pc-exports"


def export_blob_name(run_id: str) -> str:
    return f"{run_id}.json"


class BlobExports:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def write(self, name: str, text: str) -> str:
        """Write (or rewrite: a redelivered export writes the same text) and name the blob."""
        from azure.storage.blob import ContentSettings  # the SDK loads on first use

        with blob_service(self._settings) as service:
            container = service.get_container_client(EXPORTS_CONTAINER)
            if not container.exists():
                container.create_container()
            container.upload_blob(
                name,
                text.encode(),
                overwrite=True,
                content_settings=ContentSettings(content_type="application/json"),
            )
        return f"{EXPORTS_CONTAINER}/{name}"
