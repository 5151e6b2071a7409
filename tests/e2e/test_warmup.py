"""An instance warms up as it starts (the warmup trigger): its secret read and its tokens taken
before any work arrives, so a batch's first runs do not queue behind them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueServiceClient

from pcpub.ops import Storage
from pcpub.stack import LocalStack
from pcsim.admin import SimulatorClient
from shared.ledger import RunStatus
from shared.queues import ALL_QUEUES
from tests.e2e.conftest import publish, wait_terminal


def _kinds(log: list[dict[str, Any]]) -> tuple[int, int, int]:
    tokens = sum(e["method"] == "POST" and e["path"].endswith("/token") for e in log)
    secrets = sum(e["method"] == "GET" and e["path"].startswith("/secrets/") for e in log)
    calls = sum("ingestion" in e["path"] for e in log)
    return tokens, secrets, calls


def test_a_started_instance_has_its_secret_and_tokens_and_its_first_run_takes_none(
    tmp_path: Path,
) -> None:
    with LocalStack(tmp_path, profile="fast") as stack:
        admin = SimulatorClient(stack.sim_config)
        tokens, secrets, calls = _kinds(admin.requests())
        # The vault's token, then the secret; Partner Center's token and Graph's (the lookup).
        assert secrets >= 1
        assert tokens >= 3
        assert calls == 0  # warming up spends nothing of the tenant's budget
        # The ledger's tables, the archive too: not made by a batch's first intakes at once.
        service = TableServiceClient.from_connection_string(stack.connection_string)
        with service:
            names = {t.name for t in service.list_tables()}
        assert {"pcruns", "pcrunsactive", "pcrunsarchive"} <= names
        # The queues too: the events queue has no listener, so only a stage's first event
        # would make it (each of a batch's first stages sending its own create call).
        queues = {
            q.name
            for q in QueueServiceClient.from_connection_string(
                stack.connection_string
            ).list_queues()
        }
        assert set(ALL_QUEUES) <= queues
        storage = Storage(stack.connection_string)
        publish(storage, "warm-1", "contoso-analytics", "preview")
        run = wait_terminal(storage, "warm-1")
        assert run.status is RunStatus.SUCCEEDED, run.last_error
        after = _kinds(admin.requests())
        assert after[:2] == (tokens, secrets)  # the run took no token and read no secret
        assert after[2] > 0
        admin.close()
