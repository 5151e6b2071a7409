"""Storage clients for the pipeline's queues and ledger table, from the host's own setting.

Locally and in tests `AzureWebJobsStorage` is a connection string (Azurite); in Azure it is
identity-based (`AzureWebJobsStorage__queueServiceUri`, `__tableServiceUri`) and the function
app's managed identity is used: no account key anywhere.
"""

from __future__ import annotations

from typing import Any

from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueClient

from shared.queues import queue_client_kwargs
from shared.settings import Settings


def _identity(settings: Settings) -> Any:
    from azure.identity import ManagedIdentityCredential

    return ManagedIdentityCredential(client_id=settings.managed_identity_client_id)


def queue_client(settings: Settings, name: str) -> QueueClient:
    if settings.storage_connection:
        return QueueClient.from_connection_string(
            settings.storage_connection, name, **queue_client_kwargs()
        )
    assert settings.storage_queue_uri
    return QueueClient(
        settings.storage_queue_uri, name, credential=_identity(settings), **queue_client_kwargs()
    )


def table_service(settings: Settings) -> TableServiceClient:
    if settings.storage_connection:
        return TableServiceClient.from_connection_string(settings.storage_connection)
    assert settings.storage_table_uri
    return TableServiceClient(settings.storage_table_uri, credential=_identity(settings))
