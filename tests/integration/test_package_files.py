"""Package files on real blob storage: a staged package replaced by a larger one after it was
checked is refused when read, having read no more than one byte past the limit."""

from __future__ import annotations

import contextlib

import pytest
from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import BlobServiceClient

from shared.packages import BlobPackageFiles, PackageSourceRefused
from shared.publish_request import PackageSource
from shared.settings import Settings


def test_a_package_grown_past_the_limit_since_its_check_is_refused(settings: Settings) -> None:
    limited = settings.model_copy(update={"package_max_bytes": 16})
    files = BlobPackageFiles(limited)
    assert limited.storage_connection is not None
    with BlobServiceClient.from_connection_string(limited.storage_connection) as service:
        container = service.get_container_client(limited.package_staging_container)
        with contextlib.suppress(ResourceExistsError):
            container.create_container()
        container.upload_blob("grows.app", b"NAVX small", overwrite=True)
        source = PackageSource(staged="grows.app")
        assert files.check(source) == 10
        assert files.read(source) == b"NAVX small"
        container.upload_blob("grows.app", b"NAVX" + b"x" * 5000, overwrite=True)
        with pytest.raises(PackageSourceRefused, match="grew past the limit of 16 bytes"):
            files.read(source)
