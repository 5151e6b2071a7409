"""infra/ parses, and declares what the function app uses: one source of truth for queue
names, the ledger table and app settings, least-privilege roles, and no secret in settings."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pycep import BicepParser

from pcpub.stack import app_settings as stack_settings
from shared.ledger import TABLE_NAME
from shared.queues import ALL_QUEUES
from shared.settings import ENV, Settings

INFRA = Path(__file__).resolve().parents[2] / "infra"
BICEP_FILES = sorted(INFRA.rglob("*.bicep"))
ROLE = {
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": "Key Vault Secrets Officer",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
}


@cache
def parsed(name: str) -> dict[str, Any]:
    tree: Any = BicepParser().parse(file_path=INFRA / name)
    return dict(tree)


def var(name: str, file: str = "main.bicep") -> Any:
    return parsed(file)["variables"][name]["value"]


def app_settings() -> dict[str, Any]:
    app = parsed("app/function.bicep")["resources"]["app"]["config"]
    return {s["name"]: s["value"] for s in app["properties"]["siteConfig"]["appSettings"]}


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: str(p.relative_to(INFRA)))
def test_every_bicep_file_parses(path: Path) -> None:
    tree = parsed(str(path.relative_to(INFRA)))
    assert tree.get("resources") or tree.get("modules")


def test_every_module_file_exists() -> None:
    for name, module in parsed("main.bicep")["modules"].items():
        assert (INFRA / module["detail"]["path"]).exists(), name


def test_queues_and_table_are_the_apps() -> None:
    assert sorted(var("pipelineQueues")) == sorted(ALL_QUEUES)
    assert var("ledgerTable") == TABLE_NAME
    assert var("secretName") == Settings.model_fields["secret_name"].default


def test_the_worker_has_a_thread_for_each_message_a_function_may_run() -> None:
    queues = json.loads((INFRA.parent / "host.json").read_text())["extensions"]["queues"]
    threads = int(app_settings()["PYTHON_THREADPOOL_THREAD_COUNT"])
    assert threads == queues["batchSize"] + queues["newBatchThreshold"]
    local = stack_settings(defaultdict(str), "")
    assert int(local["PYTHON_THREADPOOL_THREAD_COUNT"]) == threads  # the local stack's too


def test_hand_offs_that_arrive_one_at_a_time_start_without_waiting() -> None:
    """A listener reads again only while no more than newBatchThreshold of its messages run,
    so hand-offs that come one at a time (a batch's runs reaching a stage a moment apart) start
    at once up to newBatchThreshold + 1 running; past that each waits for a whole stage of
    another run to end. 32 of them start at once (the threads for them: the test above)."""
    queues = json.loads((INFRA.parent / "host.json").read_text())["extensions"]["queues"]
    assert queues["newBatchThreshold"] + 1 >= 32


def test_app_settings_are_the_ones_the_app_reads() -> None:
    settings = app_settings()
    known = set(ENV.values()) | {
        "POLL_SCHEDULE",
        "DEADLETTER_SCHEDULE",
        "PYTHON_THREADPOOL_THREAD_COUNT",  # the Python worker's, not the app's
    }
    prefix = "AzureWebJobsStorage__"  # the bindings' connection, identity-based
    unknown = {n for n in settings if n not in known and not n.startswith(prefix)}
    assert unknown == set()
    # Literal values as declared; parameters and outputs (names) stand in with placeholders.
    env = {
        name: value
        if isinstance(value, str)
        and value.isascii()
        and name in ("VAULT_CREDENTIAL", "PC_STATUS_POLL_SECONDS", "PC_SECRET_NAME")
        else (
            "https://placeholder.example"
            if "URL" in name or "Uri" in name
            else "600"  # a number parameter (the budget's ceiling)
            if name == "PC_RATE_LIMIT_PER_MINUTE"
            else "1.0"  # a ratio parameter
            if name == "PC_TRACE_SAMPLING_RATIO"
            else "[]"  # a JSON parameter (no sinks by default)
            if name == "PC_NOTIFY_SINKS"
            else "x"
        )
        for name, value in settings.items()
    }
    parsed_settings = Settings.from_env(env)  # every required setting is there
    assert parsed_settings.vault_credential == "managed-identity"
    assert parsed_settings.storage_connection is None  # identity, not a connection string


def test_no_secret_in_app_settings() -> None:
    for name, value in app_settings().items():
        text = str(value)
        assert "AccountKey" not in text and "SharedAccessSignature" not in text, name
        assert "listKeys" not in text, name
        if "SECRET" in name.upper():
            assert name == "PC_SECRET_NAME", name  # a secret's name, never its value


def test_function_app_shape() -> None:
    function = parsed("app/function.bicep")["resources"]
    assert function["plan"]["config"]["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    app = function["app"]["config"]
    assert app["identity"]["type"] == "UserAssigned"
    assert app["properties"]["httpsOnly"] is True
    assert app["properties"]["functionAppConfig"]["runtime"] == {
        "name": "python",
        "version": "3.11",
    }
    storage = parsed("app/storage.bicep")["resources"]["storage"]["config"]["properties"]
    assert storage["allowSharedKeyAccess"] is False
    assert storage["allowBlobPublicAccess"] is False
    vault = parsed("app/keyvault.bicep")["resources"]["vault"]["config"]["properties"]
    assert vault["enableRbacAuthorization"] is True
    assert vault["enableSoftDelete"] is True
    assert vault["enablePurgeProtection"] is True


def _storage_roles(listed: str) -> list[str]:
    """The role names of an array of `roles.<name>` in rbac.bicep, sorted."""
    roles = var("roles", "app/rbac.bicep")
    return sorted(
        ROLE[roles[r["operator"]["operands"]["operand_2"]]] for r in var(listed, "app/rbac.bicep")
    )


def test_roles_are_least_privilege() -> None:
    roles = var("roles", "app/rbac.bicep")
    assert {ROLE[r] for r in roles.values()} == set(ROLE.values())  # nothing broader
    queues_and_table = ["Storage Queue Data Contributor", "Storage Table Data Contributor"]
    assert _storage_roles("storageRoles") == ["Storage Blob Data Owner", *queues_and_table]
    # The deploying user operates with `pcpub --account`: data access, never the Owner role.
    assert _storage_roles("operatorStorageRoles") == [
        "Storage Blob Data Contributor",
        *queues_and_table,
    ]
    resources = parsed("app/rbac.bicep")["resources"]
    assert resources["secretsUser"]["config"]["scope"] == "vault"
    assert resources["storageAccess"]["config"]["config"]["scope"] == "storage"
    assert "operatorAccess" in resources


def test_outputs_for_operators() -> None:
    outputs = parsed("main.bicep")["outputs"]
    for name in (
        "AZURE_FUNCTION_APP_NAME",
        "PUBLISH_REQUEST_QUEUE_URL",
        "EVENTS_QUEUE_URL",
        "KEY_VAULT_URL",
        "AZURE_RESOURCE_GROUP",
    ):
        assert name in outputs


def _names_the_app_emits(queries: str) -> None:
    """Every metric and log action a query reads is one the app emits: a renamed metric or
    action would otherwise leave an alert (or a workbook chart) silently empty."""
    root = INFRA.parent
    instruments = (root / "shared/observability/metrics.py").read_text()
    sources = "".join(p.read_text() for p in (root / "shared").rglob("*.py"))
    metrics = set(re.findall(r'name == "(pcpub\.[a-z.]+)"', queries))
    actions = set(re.findall(r'customDimensions\.action\) == "([a-z_]+)"', queries))
    for listed in re.findall(r"customDimensions\.action\) in \(([^)]*)\)", queries):
        actions |= set(re.findall(r'"([a-z_]+)"', listed))
    assert metrics and actions
    for metric in metrics:
        assert f'"{metric}"' in instruments, metric
    for action in actions:
        assert f'"action": "{action}"' in sources, action


def test_alerts_read_metrics_and_dimensions_the_app_emits() -> None:
    alerts = var("alerts", "app/monitoring.bicep")
    queries = "\n".join(a["query"] for a in alerts)
    assert not re.search(r"\bmessage\b", queries)  # no alert matches text
    _names_the_app_emits(queries)
    assert {a["name"] for a in alerts} >= {
        "poison",
        "run-failed",
        "run-stalled",
        "incident-open",
        "credentials-failing",
        "run-lost",
        "approval-waiting",
        "run-troubled",
    }


def test_the_workbook_is_deployed_and_queries_what_the_app_emits() -> None:
    workbook = parsed("app/monitoring.bicep")["resources"]["workbook"]["config"]
    source = workbook["properties"]["serializedData"]["function"]["parameters"]["file_path"]
    content = json.loads((INFRA / "app" / source).read_text())
    queries = [i["content"]["query"] for i in content["items"] if i["type"] == 3]
    _names_the_app_emits("\n".join(queries))
    titles = " ".join(i["content"]["title"] for i in content["items"] if i["type"] == 3)
    for part in ("Runs", "Stages", "Certification", "Partner Center", "dead-lettered", "run's"):
        assert part in titles
    assert any("{RequestId}" in q for q in queries)  # the drill-down by request id


def test_the_host_never_samples_out_a_failed_invocation() -> None:
    logging_config = json.loads((INFRA.parent / "host.json").read_text())["logging"]
    excluded = logging_config["applicationInsights"]["samplingSettings"]["excludedTypes"]
    assert set(excluded.split(";")) >= {"Request", "Exception"}
    # The app's own records reach Application Insights once, through the worker's exporter.
    assert logging_config["logLevel"]["Function"] == "Warning"
