"""`pcpub demo --release`: a release of four offers on the local stack — a Business Central
library first, two apps that depend on it, one more on top — to preview, approved with one
command, then live in dependency order; the release's table as it goes."""

from __future__ import annotations

import json
import time
from typing import Any

from pcpub import controls, release_follow
from pcpub.ops import Storage
from pcpub.stack import LocalStack

RELEASE = {
    "schemaVersion": 1,
    "target": "live",
    "goLive": "approval",
    "onlyChanged": True,
    "maxInFlight": 2,
    "requestedBy": "pcpub demo --release",
}


def release_body(release_id: str) -> dict[str, Any]:
    def title(text: str) -> dict[str, Any]:
        return {"listing": {"title": text}}

    return {
        **RELEASE,
        "releaseId": release_id,
        "offers": [
            {
                "name": "timesheets",
                "offer": {"externalId": "contoso-timesheets"},
                "changes": {
                    "properties": {"appVersion": "2.0.0.0"},
                    "package": {
                        "app": {"staged": "demo/timesheets_2.0.0.0.app"},
                        "libraries": [{"staged": "demo/timesheets-base.app"}],
                    },
                },
            },
            {
                "name": "analytics",
                "offer": {"externalId": "contoso-analytics"},
                "dependsOn": ["timesheets"],
                "changes": title("Contoso Analytics (release demo)"),
            },
            {
                "name": "backup",
                "offer": {"externalId": "contoso-backup"},
                "dependsOn": ["timesheets"],
                "changes": title("Contoso Backup"),  # what it has already: unchanged
            },
            {
                "name": "monitor",
                "offer": {"externalId": "fabrikam-monitor"},
                "dependsOn": ["analytics"],
                "changes": title("Fabrikam Monitor (release demo)"),
            },
        ],
    }


def run_release(stack: LocalStack, storage: Storage, timeout: float) -> bool:
    release_id = f"demo-release-{time.strftime('%Y%m%d-%H%M%S')}"
    body = json.dumps(release_body(release_id)).encode()
    release_follow.send_release(storage, body)
    print(f"sent release {release_id}: 4 offers, goLive approval, onlyChanged", flush=True)
    if release_follow.follow(storage, release_id, "preview", timeout=timeout) != 0:
        return False
    print(f"\nevery offer is in preview or unchanged; approving: pcpub approve {release_id}")
    approved = controls.decide(storage, release_id, "pcpub demo", approve=True)
    print(f"approved the go-live of {len(approved)} run(s); they go live in dependency order")
    return release_follow.follow(storage, release_id, "live", timeout=timeout) == 0
