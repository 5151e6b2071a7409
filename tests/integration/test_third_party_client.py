"""An unmodified third-party client (curl and jq, following Microsoft's documented sequence)
publishes against the simulator with only its host names changed."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pcsim.admin import SimulatorClient
from tests.conftest import reference

SCRIPT = Path(__file__).parent / "thirdparty" / "curl_publish.sh"


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq")), reason="needs curl, jq")
def test_curl_script_publishes_to_live(sim_config: dict[str, Any], tmp_path: Path) -> None:
    admin = SimulatorClient(sim_config)
    try:  # an offer of its own, so no other test's submission is in flight on it
        admin.http.post(
            f"{sim_config['adminUrl']}/offers",
            json={"offerId": "curl-offer", "name": "Curl Offer", "plans": ["gold", "silver"]},
        ).raise_for_status()
    finally:
        admin.close()
    env = {
        **os.environ,
        "AUTHORITY": sim_config["authorityHost"],
        "API": sim_config["ingestionBaseUrl"],
        "TENANT": sim_config["tenantId"],
        "CLIENT_ID": sim_config["clientId"],
        "CLIENT_SECRET": sim_config["clientSecret"],
        "OFFER": "curl-offer",
        "PLAN": "silver",
        "CA": sim_config["caCertPath"],
        "TMPDIR": str(tmp_path),
    }
    # The script follows the 2022 document: against the 2026 service it cannot even find the
    # offer (the listing hides migrated offers), as such clients found that April.
    live = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True)
    assert live.returncode == 1
    assert "offer curl-offer not found" in live.stderr
    admin = SimulatorClient(sim_config)
    before = admin.set_live(offerListing="v1", resellerRequired=False)
    try:
        done = subprocess.run(
            ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120
        )
        report = admin.contract()
    finally:
        admin.set_live(**before)
        admin.close()
    if reference() is not None:  # every answer the script got was checked against the document
        assert report["checking"] and report["checked"] > 20
        assert report["problems"] == []
    assert done.returncode == 0, done.stderr
    submission_id, status = done.stdout.split()
    assert submission_id.isdigit()
    assert status == "Published/InStore"
