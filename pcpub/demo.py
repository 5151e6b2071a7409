"""`make demo`: the whole local stack, one publish request to live, its progress, a summary."""

from __future__ import annotations

import json
import time
from pathlib import Path

from pcpub.ops import Storage, enqueue, format_status
from pcpub.simulator.admin import SimulatorClient
from pcpub.stack import LocalStack
from shared.ledger import RunStatus


def run_demo(
    *,
    profile: str = "fast",
    timeout: float = 300.0,
    workdir: Path | None = None,
    offer: str | None = None,
) -> int:
    started = time.monotonic()
    print(
        f"starting Azurite, the Partner Center simulator ({profile} timings) and the "
        "local functions host ...",
        flush=True,
    )
    with LocalStack(workdir, profile=profile) as stack:
        sim = stack.sim_config
        target_offer = offer or sim["offers"][0]["offerId"]
        print(
            f"  Azurite      {stack.connection_string.split('QueueEndpoint=')[1].split(';')[0]}"
            f" (queues)\n  simulator    {sim['ingestionBaseUrl']}\n"
            f"  Entra / Key Vault stand-ins at {sim['authorityHost']}\n"
            f"  logs         {stack.workdir}",
            flush=True,
        )
        storage = Storage(stack.connection_string)
        request_id = f"demo-{time.strftime('%Y%m%d-%H%M%S')}"
        request = {
            "schemaVersion": 1,
            "requestId": request_id,
            "offer": {"externalId": target_offer},
            "target": "live",
            # One draft change, so the run reads, compares and writes a module with its ETag
            # and submits just that module.
            "changes": {"listing": {"title": f"{target_offer} (published by pc-publisher)"}},
            "requestedBy": "make demo",
            "labels": {"source": "demo"},
        }
        enqueue(storage, json.dumps(request))
        print(f"enqueued publish request {request_id}: offer {target_offer!r} -> live", flush=True)
        seen: tuple[str, str, str | None] | None = None
        deadline = time.monotonic() + timeout
        run = None
        while time.monotonic() < deadline:
            run = storage.ledger.get(request_id)
            if run is not None:
                now = (str(run.status), run.stage, run.pc_status)
                if now != seen:
                    seen = now
                    pc = f"  [Partner Center: {run.pc_status}]" if run.pc_status else ""
                    print(
                        f"  {time.monotonic() - started:6.1f}s  {run.stage:<15} {run.status}{pc}",
                        flush=True,
                    )
                if run.status.terminal:
                    break
            time.sleep(0.2)
        if run is None or not run.status.terminal:
            print(f"the run did not finish within {timeout:.0f}s; logs in {stack.workdir}")
            return 1
        print("\nsummary\n" + format_status(run))
        admin = SimulatorClient(sim)
        live = "unknown"
        if run.product_id and run.submission_id:
            live = admin.submission_status(run.product_id, run.submission_id)
        print(f"  on the simulator: submission {run.submission_id} is {live}")
        log = admin.requests()
        mine = [r for r in log if (r.get("clientRequestId") or "").startswith(request_id + ".")]
        print(
            f"  the simulator saw {len(mine)} Partner Center calls tagged with this run "
            f"({len(log)} requests in all, token and Key Vault requests included)"
        )
        admin.close()
        print(f"done in {time.monotonic() - started:.1f}s; stopping everything", flush=True)
        ok = run.status is RunStatus.SUCCEEDED and live == "Published/InStore"
    return 0 if ok else 1
