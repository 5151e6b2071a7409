"""End to end per offer type, through the real queues and host: a Business Central app with
two library apps and a new version goes live; a solution-template plan's package goes to
preview; a managed-application plan's authorizations change; a VM offer is refused naming the
API that publishes it."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from azure.storage.blob import BlobClient

from pcpub.ops import Storage
from pcpub.stack import LocalStack
from pcsim.admin import SimulatorClient
from shared.ledger import RunStatus
from tests.e2e.conftest import calls_for, events_for, publish, stage_package, wait_terminal

OWNER_ROLE = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
PRINCIPAL = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"


def test_business_central_app_with_two_libraries_and_a_new_version_goes_live(
    storage: Storage, admin: SimulatorClient, stack: LocalStack
) -> None:
    stage_package(stack, "bc/timesheets_2.1.0.0.app", b"NAVX" + b"m" * 5000)
    stage_package(stack, "bc/base-library.app", b"NAVX" + b"b" * 3000)
    stage_package(stack, "bc/common-library.app", b"NAVX" + b"c" * 2000)
    publish(
        storage,
        "e2e-bc-1",
        "contoso-timesheets",
        "live",
        changes={
            "properties": {"appVersion": "2.1.0.0"},
            "package": {
                "app": {"staged": "bc/timesheets_2.1.0.0.app"},
                "libraries": [
                    {"staged": "bc/base-library.app"},
                    {"staged": "bc/common-library.app"},
                ],
            },
        },
    )
    run = wait_terminal(storage, "e2e-bc-1")
    assert run.status is RunStatus.SUCCEEDED, run.reason
    stages = [s.stage for s in run.timeline]
    assert "await_package" not in stages  # the upload PUT answered Processed
    assert run.changed_modules == ["Package", "Property"]
    assert run.product_id and run.submission_id
    sub = admin.ingestion("GET", f"products/{run.product_id}/submissions/{run.submission_id}")
    assert sorted(r["type"] for r in sub.json()["resources"]) == ["Package", "Property"]
    assert sub.json()["variantResources"] == []
    assert admin.submission_status(run.product_id, run.submission_id) == "Published/InStore"
    # Two packages: the main app and one zip of both libraries, referenced by the offer.
    assert calls_for(admin, run.product_id, "POST", "/packages") == 2
    library = admin.ingestion(
        "GET", f"products/{run.product_id}/packages/{run.packages['offer:libraries']}"
    ).json()
    assert library["resourceType"] == "Dynamics365BusinessCentralAddOnLibraryExtensionPackage"
    with BlobClient.from_blob_url(library["fileSasUri"]) as blob:
        names = zipfile.ZipFile(io.BytesIO(blob.download_blob().readall())).namelist()
    assert names == ["base-library.app", "common-library.app"]
    branches = admin.ingestion(
        "GET", f"products/{run.product_id}/branches/getByModule(module=Package)"
    ).json()["value"]
    assert len(branches) == 1 and "variantID" not in branches[0]  # offer level, as BC has it
    configs = [configuration(admin, run.product_id, None)]
    assert [r["type"] for r in configs[0]["packageReferences"]] == [
        "Dynamics365BusinessCentralAddOnExtensionPackage",
        "Dynamics365BusinessCentralAddOnLibraryExtensionPackage",
    ]
    assert [e["kind"] for e in events_for(storage, "e2e-bc-1")][-1] == "succeeded"


def test_solution_template_plan_package_goes_to_preview(
    storage: Storage, admin: SimulatorClient, stack: LocalStack
) -> None:
    stage_package(stack, "zone-1.2.0.zip", b"PK\x03\x04" + b"z" * 4000)
    publish(
        storage,
        "e2e-template-1",
        "contoso-landing-zone",
        "preview",
        changes={
            "plans": {
                "blueprint": {
                    "technicalConfiguration": {
                        "version": "1.2.0",
                        "package": {"staged": "zone-1.2.0.zip"},
                    }
                }
            }
        },
    )
    run = wait_terminal(storage, "e2e-template-1")
    assert run.status is RunStatus.SUCCEEDED, run.reason
    assert run.product_id and run.submission_id
    assert admin.submission_status(run.product_id, run.submission_id) == "Published/ReadyToPublish"
    variant = run.plans["blueprint"]
    assert run.changed_modules == [f"Package@{variant}"]
    config = configuration(admin, run.product_id, variant)
    assert config["resourceType"] == "AzureSolutionTemplatePackageConfiguration"
    assert config["version"] == "1.2.0"
    assert config["packageReferences"] == [
        {"type": "AzureApplicationPackage", "value": run.packages["blueprint"]}
    ]


def test_managed_application_authorizations_change(
    storage: Storage, admin: SimulatorClient
) -> None:
    publish(
        storage,
        "e2e-managed-1",
        "fabrikam-monitor",
        "preview",
        changes={
            "plans": {
                "team": {
                    "technicalConfiguration": {
                        "tenantId": TENANT,
                        "authorizations": [
                            {"principalId": PRINCIPAL, "roleDefinitionId": OWNER_ROLE}
                        ],
                        "allowJitAccess": True,
                        "customerAccessEnableState": "Enabled",
                    }
                }
            }
        },
    )
    run = wait_terminal(storage, "e2e-managed-1")
    assert run.status is RunStatus.SUCCEEDED, run.reason
    assert run.product_id
    variant = run.plans["team"]
    assert run.changed_modules == [f"Package@{variant}"]
    mine = [configuration(admin, run.product_id, variant)]
    assert mine[0]["publicAzureAuthorizations"] == [
        {"principalID": PRINCIPAL, "roleDefinitionID": OWNER_ROLE}
    ]
    assert mine[0]["publicAzureTenantID"] == TENANT
    assert mine[0]["allowJitAccess"] is True
    assert calls_for(admin, run.product_id, "POST", "/packages") == 0


def test_a_vm_offer_is_refused_naming_the_api_that_publishes_it(
    storage: Storage, admin: SimulatorClient
) -> None:
    publish(
        storage,
        "e2e-vm-1",
        "contoso-gateway-vm",
        "live",
        changes={"listing": {"title": "Gateway"}},
    )
    run = wait_terminal(storage, "e2e-vm-1")
    assert run.status is RunStatus.REJECTED
    assert run.reason and "Product Ingestion API" in run.reason
    assert "AzureThirdPartyVirtualMachine" in run.reason
    rejected = [e for e in events_for(storage, "e2e-vm-1") if e["kind"] == "rejected"]
    assert rejected and "Product Ingestion API" in rejected[0]["reason"]
    assert run.product_id
    writes = [
        r
        for r in admin.requests()
        if run.product_id in r["path"] and r["method"] in ("PUT", "POST", "DELETE")
    ]
    assert writes == []


def configuration(admin: SimulatorClient, product_id: str, variant: str | None) -> Any:
    """The package configuration of the offer (variant None) or of one plan."""
    branch = next(
        b
        for b in admin.ingestion(
            "GET", f"products/{product_id}/branches/getByModule(module=Package)"
        ).json()["value"]
        if b.get("variantID") == variant
    )
    return admin.ingestion(
        "GET",
        f"products/{product_id}/packageConfigurations/getByInstanceID("
        f"instanceID={branch['currentDraftInstanceID']})",
    ).json()["value"][0]
