"""Partner Center calls per run, per offer type: one publish to live of each kind a
publisher automates (an Azure Application managed-application plan's package and version, a
solution-template plan's package, a Business Central main app with a library app and a new
version), each counted against the minimal sequence for its type. Writes
bench/results/offer_types.json.

    python -m bench.offer_types
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from pathlib import Path
from typing import Any

from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import BlobServiceClient

from pcpub.ops import Storage, enqueue
from pcpub.stack import LocalStack
from pcsim.admin import SimulatorClient

ROOT = Path(__file__).resolve().parents[1]
POLLS = re.compile(r"/(submissions/\d+|packages/[0-9a-f-]{36})$")
# The minimal v1 sequence (status and package polls aside) for a first run of each case:
# resolve = listing (+ the product by the id the Product Ingestion API gave, for a migrated
# Azure Application the listing hides) + (variants | setup) + submissions; each package =
# create + mark uploaded; each changed module = branches + read + PUT; submit = the branches
# of each module listed + create; promote.
MINIMAL = {
    # 4 + 2 + 3 (Package@plan) + 3 (Package, ResellerConfiguration branches, create) + 1
    "azure-managed": 13,
    "azure-solution-template": 13,
    # 3 + 4 (app, library; no polls) + 6 (Property, Package) + 3 (Package, Property, create) + 1
    "business-central": 17,
}
TECH = {"version": "2.0.0", "package": {"staged": "bench/app.zip"}}
CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "azure-managed": (
        {"plans": ["basic"]},
        {"plans": {"basic": {"technicalConfiguration": TECH}}},
    ),
    "azure-solution-template": (
        {"plans": [{"planId": "basic", "subType": "solution-template"}]},
        {"plans": {"basic": {"technicalConfiguration": TECH}}},
    ),
    "business-central": (
        {"plans": [], "resourceType": "AzureDynamics365BusinessCentral"},
        {
            "properties": {"appVersion": "2.0.0.0"},
            "package": {
                "app": {"staged": "bench/main.app"},
                "libraries": [{"staged": "bench/library.app"}],
            },
        },
    ),
}


def run() -> dict[str, Any]:
    with LocalStack(profile="fast") as stack:
        admin = SimulatorClient(stack.sim_config)
        with BlobServiceClient.from_connection_string(stack.connection_string) as service:
            container = service.get_container_client("package-staging")
            with contextlib.suppress(ResourceExistsError):
                container.create_container()
            for name in ("bench/app.zip", "bench/main.app", "bench/library.app"):
                container.upload_blob(name, b"PK\x03\x04" + b"0" * 1000, overwrite=True)
        storage = Storage(stack.connection_string)
        for case, (spec, changes) in CASES.items():
            admin.add_offer(f"bench-{case}", **spec)
            enqueue(
                storage,
                json.dumps(
                    {
                        "schemaVersion": 1,
                        "requestId": f"types-{case}",
                        "offer": {"externalId": f"bench-{case}"},
                        "target": "live",
                        "changes": changes,
                    }
                ),
            )
        runs: dict[str, Any] = {}
        deadline = time.monotonic() + 300
        while len(runs) < len(CASES) and time.monotonic() < deadline:
            for case in CASES:
                record = storage.ledger.get(f"types-{case}")
                if record is not None and record.status.terminal:
                    runs[case] = record
            time.sleep(0.5)
        log = [r for r in admin.requests() if "/v1.0/ingestion" in r["path"]]
        admin.close()
    result: dict[str, Any] = {}
    for case, record in runs.items():
        mine = [e for e in log if (e.get("clientRequestId") or "").startswith(f"types-{case}.")]
        polls = sum(1 for e in mine if e["method"] == "GET" and POLLS.search(e["path"]))
        result[case] = {
            "status": str(record.status),
            "calls": len(mine),
            "calls_excluding_polls": len(mine) - polls,
            "minimal": MINIMAL[case],
            "excess": len(mine) - polls - MINIMAL[case],
        }
    return result


def main() -> None:
    result = run()
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "offer_types.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
