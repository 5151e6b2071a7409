"""Storage clients for the pipeline's queues, ledger table and package staging container, from
the host's own setting.

Locally and in tests `AzureWebJobsStorage` is a connection string (Azurite); in Azure it is
identity-based (`AzureWebJobsStorage__queueServiceUri`, `__tableServiceUri`) and the function
app's managed identity is used: no account key anywhere.
"""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.request import getproxies

from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient

from shared.queues import queue_client_kwargs
from shared.settings import Settings


def _identity(settings: Settings) -> Any:
    return _managed_identity(settings.managed_identity_client_id)


@cache
def _managed_identity(client_id: str | None) -> Any:
    """One credential per process, so its token cache serves every client."""
    from azure.identity import ManagedIdentityCredential

    return ManagedIdentityCredential(client_id=client_id)


def transport_options() -> dict[str, Any]:
    """One connection pool for every queue and table client of the process, with the proxy
    environment read once. The SDKs' default transport re-reads proxy variables and looks for
    ~/.netrc on every request and then goes through `requests`, which together took about a
    third of a busy host's time (`shared.storage_transport`); with a proxy configured the SDK's
    own transport is kept."""
    if getproxies():
        return {}
    return {"transport": _transport()}


@cache
def _transport() -> Any:
    from shared.storage_transport import PooledTransport

    return PooledTransport.create()


def queue_client(settings: Settings, name: str, *, raw: bool = False) -> QueueClient:
    """A queue client speaking the host's base64 encoding, or (raw) one that reads and writes
    the stored content as it is, for messages whose body cannot be trusted to decode."""
    policies = {**({} if raw else queue_client_kwargs()), **transport_options()}
    if settings.storage_connection:
        return QueueClient.from_connection_string(settings.storage_connection, name, **policies)
    assert settings.storage_queue_uri
    return QueueClient(settings.storage_queue_uri, name, credential=_identity(settings), **policies)


def table_service(settings: Settings) -> TableServiceClient:
    if settings.storage_connection:
        return TableServiceClient.from_connection_string(
            settings.storage_connection, **transport_options()
        )
    assert settings.storage_table_uri
    return TableServiceClient(
        settings.storage_table_uri, credential=_identity(settings), **transport_options()
    )


def blob_service(settings: Settings) -> BlobServiceClient:
    if settings.storage_connection:
        return BlobServiceClient.from_connection_string(settings.storage_connection)
    assert settings.storage_blob_uri, "AzureWebJobsStorage__blobServiceUri is not set"
    return BlobServiceClient(settings.storage_blob_uri, credential=_identity(settings))
