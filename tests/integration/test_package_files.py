"""Package files on real blob storage: a staged package replaced by a larger one after it was
checked is refused when read, having read no more than one byte past the limit; an upload URI
off the allowed origins gets nothing."""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import replace

import pytest
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient

from pcsim.admin import SimulatorClient
from shared.ledger import RunStatus
from shared.packages import BlobPackageFiles, PackageSourceRefused
from shared.partnercenter.errors import UploadRefused
from shared.pipeline.effects import Pipeline
from shared.pipeline.intake import accept_request
from shared.pipeline.runner import handle_stage_message
from shared.publish_request import PackageSource
from shared.queues import STAGE_QUEUES
from shared.settings import Settings
from tests.corpus.case import base, package


def stage(settings: Settings, name: str, data: bytes) -> None:
    assert settings.storage_connection is not None
    with BlobServiceClient.from_connection_string(settings.storage_connection) as service:
        container = service.get_container_client(settings.package_staging_container)
        with contextlib.suppress(ResourceExistsError):
            container.create_container()
        container.upload_blob(name, data, overwrite=True)


def test_a_package_grown_past_the_limit_since_its_check_is_refused(settings: Settings) -> None:
    limited = settings.model_copy(update={"package_max_bytes": 16})
    files = BlobPackageFiles(limited)
    assert limited.storage_connection is not None
    with BlobServiceClient.from_connection_string(limited.storage_connection) as service:
        container = service.get_container_client(limited.package_staging_container)
        stage(limited, "grows.app", b"NAVX small")
        source = PackageSource(staged="grows.app")
        assert files.check(source) == 10
        assert files.read(source) == b"NAVX small"
        container.upload_blob("grows.app", b"NAVX" + b"x" * 5000, overwrite=True)
        with pytest.raises(PackageSourceRefused, match="grew past the limit of 16 bytes"):
            files.read(source)


def test_an_upload_uri_off_the_allowed_origins_gets_nothing(
    settings: Settings, admin: SimulatorClient, pipeline: Pipeline
) -> None:
    """Partner Center's fileSasUri on a host that is not Azure Blob storage (here the
    simulator's own endpoint, with the production default of PC_UPLOAD_ORIGINS): the run fails
    saying where it was asked to upload, without the URI's signature, and nothing is sent."""
    strict = settings.model_copy(update={"upload_origins": ("https://*.blob.core.windows.net",)})
    pipeline = replace(
        pipeline, stage_deps=replace(pipeline.stage_deps, files=BlobPackageFiles(strict))
    )
    product = admin.add_offer("elsewhere", ["premium"])["id"]
    stage(strict, "elsewhere.zip", b"PK\x03\x04elsewhere")
    request = base("elsewhere-1", "elsewhere", changes=package({"staged": "elsewhere.zip"}))
    accept_request(pipeline, json.dumps(request), "m-elsewhere")
    deadline = time.monotonic() + 30
    while (run := pipeline.ledger.get("elsewhere-1")) and not run.status.terminal:
        assert time.monotonic() < deadline, run.reason
        for step, queue in STAGE_QUEUES.items():
            with contextlib.suppress(ResourceNotFoundError):
                for message in pipeline.queues.client(queue).receive_messages(max_messages=32):
                    handle_stage_message(pipeline, step, message.content.decode())
                    pipeline.queues.client(queue).delete_message(message)
    assert run is not None and run.status is RunStatus.FAILED
    assert "gave an upload URI on 'https://localhost:" in (run.reason or "")
    assert "PC_UPLOAD_ORIGINS" in (run.reason or "") and "sig=" not in (run.reason or "")
    assert not [r for r in admin.requests() if f"/_blobs/{product}/" in r["path"]]
    with pytest.raises(UploadRefused):
        BlobPackageFiles(strict).upload("http://127.0.0.1:9/c/b?sig=x", b"data")
