"""`make demo`: the whole local stack; an Azure Application offer and a Business Central app
(main app, a library app, a new version) published to live side by side; their progress; a
summary of each."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import BlobServiceClient

from pcpub.ops import Storage, enqueue, format_status
from pcpub.stack import LocalStack
from pcsim.admin import SimulatorClient
from shared.ledger import Run, RunStatus

BC_OFFER = "contoso-timesheets"
BC_FILES = {"demo/timesheets_2.0.0.0.app": b"NAVX main", "demo/timesheets-base.app": b"NAVX lib"}


def _requests(stamp: str, azure_offer: str) -> list[dict[str, Any]]:
    common = {"schemaVersion": 1, "target": "live", "requestedBy": "make demo"}
    return [
        {
            **common,
            "requestId": f"demo-{stamp}-azure",
            "offer": {"externalId": azure_offer},
            # One draft change: the run reads, compares and writes one module with its ETag
            # and submits just that module.
            "changes": {"listing": {"title": f"{azure_offer} (published by pc-publisher)"}},
            "labels": {"source": "demo", "type": "azure-application"},
        },
        {
            **common,
            "requestId": f"demo-{stamp}-bc",
            "offer": {"externalId": BC_OFFER},
            "changes": {
                "properties": {"appVersion": "2.0.0.0"},
                "package": {
                    "app": {"staged": "demo/timesheets_2.0.0.0.app"},
                    "libraries": [{"staged": "demo/timesheets-base.app"}],
                },
            },
            "labels": {"source": "demo", "type": "business-central"},
        },
    ]


def _stage_files(connection_string: str) -> None:
    """Put the Business Central app files where a build pipeline would."""
    with BlobServiceClient.from_connection_string(connection_string) as service:
        container = service.get_container_client("package-staging")
        with contextlib.suppress(ResourceExistsError):
            container.create_container()
        for name, data in BC_FILES.items():
            container.upload_blob(name, data, overwrite=True)


def run_demo(
    *,
    profile: str = "fast",
    timeout: float = 300.0,
    workdir: Path | None = None,
    offer: str | None = None,
    release: bool = False,
) -> int:
    started = time.monotonic()
    print(
        f"starting Azurite, the Partner Center simulator ({profile} timings) and the "
        "local functions host ...",
        flush=True,
    )
    with LocalStack(workdir, profile=profile) as stack:
        sim = stack.sim_config
        azure_offer = offer or sim["offers"][0]["offerId"]
        print(
            f"  Azurite      {stack.connection_string.split('QueueEndpoint=')[1].split(';')[0]}"
            f" (queues)\n  simulator    {sim['ingestionBaseUrl']}\n"
            f"  Entra / Key Vault stand-ins at {sim['authorityHost']}\n"
            f"  logs         {stack.workdir}",
            flush=True,
        )
        storage = Storage(stack.connection_string)
        _stage_files(stack.connection_string)
        if release:
            from pcpub.demo_release import run_release

            ok = run_release(stack, storage, timeout)
            _done(stack, started, ok)
            return 0 if ok else 1
        requests = _requests(time.strftime("%Y%m%d-%H%M%S"), azure_offer)
        for request in requests:
            enqueue(storage, json.dumps(request))
            print(
                f"enqueued publish request {request['requestId']}: offer "
                f"{request['offer']['externalId']!r} -> live",
                flush=True,
            )
        runs = _follow(storage, [r["requestId"] for r in requests], started, timeout)
        if runs is None:
            logs = stack.keep_workdir()
            print(f"the runs did not finish within {timeout:.0f}s; logs kept in {logs}")
            return 1
        admin = SimulatorClient(sim)
        ok = True
        for run in runs:
            print(f"\nsummary of {run.run_id}\n" + format_status(run))
            live = "none"
            if run.product_id and run.submission_id:
                live = admin.submission_status(run.product_id, run.submission_id)
                print(f"  on the simulator: submission {run.submission_id} is {live}")
            ok = ok and run.status is RunStatus.SUCCEEDED and live == "Published/InStore"
        log = admin.requests()
        ids = tuple(r.run_id + "." for r in runs)
        mine = [r for r in log if (r.get("clientRequestId") or "").startswith(ids)]
        print(
            f"\nthe simulator saw {len(mine)} Partner Center calls tagged with these runs "
            f"({len(log)} requests in all, token and Key Vault requests included)"
        )
        admin.close()
        _done(stack, started, ok)
    return 0 if ok else 1


def _done(stack: LocalStack, started: float, ok: bool) -> None:
    """The logs go with a stack that did what it should; otherwise they are kept."""
    kept = "" if ok else f" (logs kept in {stack.keep_workdir()})"
    print(f"done in {time.monotonic() - started:.1f}s; stopping everything{kept}", flush=True)


def _follow(storage: Storage, ids: list[str], started: float, timeout: float) -> list[Run] | None:
    """Print each run's stage as it changes, until every run ends (None on timeout)."""
    seen: dict[str, tuple[str, str, str | None]] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = [storage.ledger.get(i) for i in ids]
        for run in runs:
            if run is None:
                continue
            now = (str(run.status), run.stage, run.pc_status)
            if seen.get(run.run_id) != now:
                seen[run.run_id] = now
                pc = f"  [Partner Center: {run.pc_status}]" if run.pc_status else ""
                print(
                    f"  {time.monotonic() - started:6.1f}s  {run.run_id.rsplit('-', 1)[-1]:<6}"
                    f"{run.stage:<15} {run.status}{pc}",
                    flush=True,
                )
        finished = [r for r in runs if r is not None and r.status.terminal]
        if len(finished) == len(ids):
            return finished
        time.sleep(0.2)
    return None
