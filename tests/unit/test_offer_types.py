"""Offer types as data: what resolve refuses per type, Business Central packages at offer
level, solution-template and managed-application plans, against the in-process simulator."""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace
from typing import Any

import httpx
import pytest

from pcsim.app import Simulator
from shared.messages import Stage
from shared.offer_types import AZURE_APPLICATION, BUSINESS_CENTRAL, UnsupportedOffer, offer_type
from shared.partnercenter.models import Draft
from shared.pipeline import stages
from shared.pipeline.offer_fit import misfit
from shared.pipeline.outcomes import Advance, Failed
from shared.pipeline.package_config import offer_configuration, version_key
from shared.pipeline.stages import StageDeps
from shared.publish_request import DraftChanges
from shared.request_changes import OfferPackage
from tests.conftest import SimFiles, crashed_after_call, settled
from tests.unit.stage_runs import new_run, patched, posts

resolve = settled(stages.resolve)
upload_package = settled(stages.upload_package)
update_draft = settled(stages.update_draft)
submit_preview = settled(stages.submit_preview)

BC = offer_type(BUSINESS_CENTRAL)
AZURE = offer_type(AZURE_APPLICATION)
GUID_A = "4a3b2c1d-0000-4000-8000-00000000000a"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"


def changes(data: dict[str, Any]) -> DraftChanges:
    return DraftChanges.model_validate(data)


def test_types_the_v1_api_cannot_publish_name_the_api_that_can() -> None:
    with pytest.raises(UnsupportedOffer, match="Product Ingestion API"):
        offer_type("AzureThirdPartyVirtualMachine")
    with pytest.raises(UnsupportedOffer, match="SoftwareAsAService"):
        offer_type("SoftwareAsAService")
    assert offer_type("azureapplication") is AZURE  # the service's casing varies


@pytest.mark.parametrize(
    ("kind", "data", "plan_types", "expected"),
    [
        (BC, {"plans": {"main": {"listing": {"title": "x"}}}}, {}, "have no plans"),
        (AZURE, {"package": {"app": {"staged": "a.app"}}}, {}, "packages per plan"),
        (BC, {"properties": {"appVersion": "two"}}, {}, "such as 1.0.0.0"),
        (AZURE, {"availability": {"markets": ["US"]}}, {}, "markets per plan"),
        (
            AZURE,
            {"plans": {"blueprint": {"technicalConfiguration": {"allowJitAccess": True}}}},
            {"blueprint": "solution-template"},
            "solution-template plan; its technical configuration has no allowJitAccess",
        ),
        (
            AZURE,
            {"plans": {"odd": {"technicalConfiguration": {"version": "1.0.0"}}}},
            {"odd": "something-new"},
            "subType something-new",
        ),
    ],
)
def test_fields_an_offer_type_does_not_have_are_refused_with_the_type_named(
    kind: Any, data: dict[str, Any], plan_types: dict[str, str], expected: str
) -> None:
    reason = misfit(kind, changes(data), plan_types)
    assert reason is not None and expected in reason
    assert kind.label in reason or "plan" in reason


def test_fitting_changes_pass() -> None:
    managed = {"technicalConfiguration": {"tenantId": GUID_A, "allowJitAccess": True}}
    assert (
        misfit(AZURE, changes({"plans": {"basic": managed}}), {"basic": "managed-application"})
        is None
    )
    bc = {"properties": {"appVersion": "2.0.1.0"}, "package": {"app": {"staged": "a.app"}}}
    assert misfit(BC, changes(bc), {}) is None


def test_versions_compare_as_numbers() -> None:
    assert version_key("1.10.0.0") > version_key("1.9.0.0")  # type: ignore[operator]
    assert version_key("2.0") == version_key("2.0.0.0")
    assert version_key("1.0.0.0.0") is None and version_key("1.x") is None


def test_business_central_references_keep_or_drop_the_library() -> None:
    draft = Draft.model_validate(
        {
            "id": "c",
            "resourceType": "Dynamics365BusinessCentralPackageConfiguration",
            "@odata.etag": '"1"',
            "packageReferences": [
                {"type": BC.package_types["app"], "value": "old-app"},
                {"type": BC.package_types["library"], "value": "old-lib"},
            ],
        }
    )
    app = {"app": {"staged": "a.app"}}
    kept = offer_configuration(draft, BC, OfferPackage.model_validate(app), "new-app", None)
    assert [r["value"] for r in kept["packageReferences"]] == ["old-lib", "new-app"]
    dropped = offer_configuration(
        draft, BC, OfferPackage.model_validate({**app, "libraries": []}), "new-app", None
    )
    assert [r["value"] for r in dropped["packageReferences"]] == ["new-app"]


def bc_run(data: dict[str, Any], offer: str = "contoso-timesheets") -> Any:
    return replace(new_run(offer_external_id=offer), changes=data)


def test_resolve_refuses_a_vm_offer_before_anything_else(sim: Simulator, deps: StageDeps) -> None:
    outcome = resolve(new_run(offer_external_id="contoso-gateway-vm"), deps)
    assert isinstance(outcome, Failed) and outcome.rejected
    assert "AzureThirdPartyVirtualMachine" in outcome.reason
    assert "Product Ingestion API" in outcome.reason
    assert not [r for r in sim.request_log() if r["method"] != "GET" and "/ingestion/" in r["path"]]


def test_a_connect_app_takes_no_package(sim: Simulator, deps: StageDeps) -> None:
    outcome = resolve(bc_run({"package": {"app": {"staged": "a.app"}}}, "contoso-connector"), deps)
    assert isinstance(outcome, Failed) and outcome.rejected and "Connect app" in outcome.reason
    assert posts(sim, "/packages") == 0


def test_business_central_app_and_libraries_go_up_once_and_are_not_polled(
    sim: Simulator, deps: StageDeps
) -> None:
    files = SimFiles(sim)
    deps = replace(deps, files=files)
    data = {
        "properties": {"appVersion": "2.1.0.0"},
        "package": {
            "app": {"staged": "timesheets.app"},
            "libraries": [{"staged": "libs/base.app"}, {"staged": "libs/common.app"}],
        },
    }
    run = bc_run(data)
    resolved = resolve(run, deps)
    assert isinstance(resolved, Advance) and resolved.to is Stage.UPLOAD_PACKAGE
    run = patched(run, resolved)
    assert run.offer_type == BUSINESS_CENTRAL
    crashed = crashed_after_call(stages.upload_package, run, deps)
    uploaded = upload_package(crashed, deps)
    # The upload PUT answered Processed: straight to the draft, no polling stage.
    assert isinstance(uploaded, Advance) and uploaded.to is Stage.UPDATE_DRAFT
    assert posts(sim, "/packages") == 2 and files.uploads == 2
    product = sim.world.products[run.product_id or ""]
    made = {p.resource_type: p for p in product.packages.values()}
    assert set(made) == set(BC.package_types.values())
    library = made[BC.package_types["library"]]
    assert library.file_name.endswith("libraries.zip")
    run = patched(run, uploaded)
    drafted = update_draft(run, deps)
    assert isinstance(drafted, Advance)
    assert drafted.patch.changed_modules == ["Package", "Property"]
    config = next(d for d in product.drafts.values() if d.collection == "packageconfigurations")
    assert config.body["packageReferences"] == [
        {"type": BC.package_types["app"], "value": run.packages["offer:app"]},
        {"type": BC.package_types["library"], "value": run.packages["offer:libraries"]},
    ]
    run = patched(run, drafted)
    submit_preview(run, deps)
    request = product.submissions[-1].request
    assert sorted(r["type"] for r in request["resources"]) == ["Package", "Property"]
    assert request["variantResources"] == []


def test_the_library_zip_holds_every_library(sim: Simulator, deps: StageDeps) -> None:
    uploaded: list[bytes] = []

    class Keep(SimFiles):
        def upload(self, sas_uri: str, data: bytes) -> None:
            uploaded.append(data)
            super().upload(sas_uri, data)

    deps = replace(deps, files=Keep(sim))
    libs = [{"staged": "a/base.app"}, {"staged": "b/base.app"}]  # same name twice
    run = bc_run({"package": {"app": {"staged": "main.app"}, "libraries": libs}})
    run = patched(run, resolve(run, deps))
    upload_package(run, deps)
    archive = zipfile.ZipFile(io.BytesIO(uploaded[1]))
    assert archive.namelist() == ["base.app", "1-base.app"]


def test_a_lower_business_central_version_is_refused(sim: Simulator, deps: StageDeps) -> None:
    run = bc_run({"properties": {"appVersion": "0.9.0.0"}})
    run = patched(run, resolve(run, deps))
    outcome = update_draft(run, deps)
    assert isinstance(outcome, Failed) and "lower than the offer's current version 1.0.0.0" in (
        outcome.reason
    )
    assert not [r for r in sim.request_log() if r["method"] == "PUT"]


def test_a_solution_template_plan_gets_its_own_configuration_type(
    sim: Simulator, deps: StageDeps
) -> None:
    deps = replace(deps, files=SimFiles(sim))
    tech = {"version": "1.2.0", "package": {"staged": "zone.zip"}}
    run = bc_run({"plans": {"blueprint": {"technicalConfiguration": tech}}}, "contoso-landing-zone")
    run = patched(run, resolve(run, deps))
    assert run.plan_types == {"blueprint": "solution-template"}
    run = patched(run, upload_package(run, deps))
    sim.world.clock.offset += 30
    run = patched(run, settled(stages.await_package)(run, deps))
    assert isinstance(update_draft(run, deps), Advance)
    product = sim.world.products[run.product_id or ""]
    config = next(
        d
        for d in product.drafts.values()
        if d.body["resourceType"] == "AzureSolutionTemplatePackageConfiguration"
    )
    assert config.body["version"] == "1.2.0"
    assert config.body["packageReferences"][0]["value"] == run.packages["blueprint"]


def test_managed_application_access_fields_are_written(sim: Simulator, deps: StageDeps) -> None:
    tech = {
        "tenantId": GUID_A,
        "authorizations": [{"principalId": GUID_A.upper(), "roleDefinitionId": OWNER}],
        "allowJitAccess": True,
        "deploymentMode": "Complete",
        "allowedDataActions": ["Microsoft.Storage/storageAccounts/blobServices/*"],
    }
    run = bc_run({"plans": {"basic": {"technicalConfiguration": tech}}}, "contoso-backup")
    run = patched(run, resolve(run, deps))
    outcome = update_draft(run, deps)
    assert isinstance(outcome, Advance)
    product = sim.world.products[run.product_id or ""]
    config = next(d for d in product.drafts.values() if d.body.get("publicAzureAuthorizations"))
    assert config.body["publicAzureAuthorizations"] == [
        {"principalID": GUID_A, "roleDefinitionID": OWNER}
    ]
    assert config.body["canEnableCustomerActions"] is True
    assert config.body["deploymentMode"] == "Complete"


def test_simulator_refuses_what_the_service_refuses(sim: Simulator, http: httpx.Client) -> None:
    bc = next(p for p in sim.world.products.values() if p.offer_id == "contoso-timesheets")
    wrong = http.post(
        f"products/{bc.id}/packages",
        json={"resourceType": "AzureApplicationPackage", "fileName": "x.zip"},
    )
    assert wrong.status_code == 400 and "doesn't match" in wrong.text
    azure = next(p for p in sim.world.products.values() if p.offer_id == "contoso-backup")
    config = next(
        d
        for d in azure.drafts.values()
        if d.collection == "packageconfigurations"
        and d.body["resourceType"].startswith("AzureManaged")
    )
    body = {
        **config.body,
        "id": config.id,
        "publicAzureAuthorizations": [{"principalID": "owner", "roleDefinitionID": OWNER}],
    }
    refused = http.put(
        f"products/{azure.id}/packageConfigurations/{config.id}",
        json=body,
        headers={"If-Match": config.etag},
    )
    assert refused.status_code == 400
    assert "Enter a valid GUID" in refused.text and "publicAzureTenantID: Missing" in refused.text


def test_business_central_markets_are_set_on_the_offer(sim: Simulator, deps: StageDeps) -> None:
    run = bc_run({"availability": {"markets": ["US", "DK"]}})
    run = patched(run, resolve(run, deps))
    outcome = update_draft(run, deps)
    assert isinstance(outcome, Advance) and outcome.patch.changed_modules == ["Availability"]
    product = sim.world.products[run.product_id or ""]
    [markets] = [d for d in product.drafts.values() if d.collection == "featureavailabilities"]
    assert {m["marketCode"]: m["state"] for m in markets.body["marketStates"]} == {
        "DK": "Enabled",
        "US": "Enabled",
    }
    puts = [r for r in sim.request_log() if r["method"] == "PUT"]
    assert len(puts) == 1 and "MarketStates" in puts[0]["query"]  # $expand on the PUT too
