"""The simulator as another publisher runs it, on its own (`python -m pcsim`, which is also
`pcpub simulator`; the local stack starts it that way): with a certificate of one's own and a
seed file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import trustme

from pcpub.processes import Managed, wait_until
from pcsim.admin import SimulatorClient

ROOT = Path(__file__).resolve().parents[2]


def test_given_certificate_and_seed(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "cert.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    seed = {
        "offers": [
            {
                "offerId": "seeded-offer",
                "name": "Seeded",
                "plans": ["one"],
                "listing": {"title": "A seeded title"},
            }
        ]
    }
    (tmp_path / "seed.json").write_text(json.dumps(seed))
    config_path = tmp_path / "config.json"
    proc = Managed(
        "simulator",
        [
            sys.executable,
            "-m",
            "pcsim",
            "--tls-cert",
            str(tmp_path / "cert.pem"),
            "--tls-key",
            str(tmp_path / "key.pem"),
            "--seed",
            str(tmp_path / "seed.json"),
            "--write-config",
            str(config_path),
            "--profile",
            "realistic",
        ],
        tmp_path / "sim.log",
        cwd=ROOT,
    )
    try:
        wait_until(config_path.exists, 30, "the simulator's config", proc)
        config = json.loads(config_path.read_text())
        assert config["caCertPath"] is None  # the caller's certificate, not a generated one
        assert [o["offerId"] for o in config["offers"]] == ["seeded-offer"]
        assert config["offers"][0]["plans"][0]["planId"] == "one"
        client = SimulatorClient({**config, "caCertPath": str(tmp_path / "ca.pem")})
        try:
            wait_until(client.healthy, 10, "health")
            pid = config["offers"][0]["productId"]
            branches = client.ingestion(
                "GET", f"products/{pid}/branches/getByModule(module=Listing)"
            ).json()["value"]
            iid = next(b for b in branches if "variantID" not in b)["currentDraftInstanceID"]
            listing = client.ingestion(
                "GET", f"products/{pid}/listings/getByInstanceID(instanceID={iid})"
            ).json()
            assert listing["value"][0]["title"] == "A seeded title"
        finally:
            client.close()
        out = (tmp_path / "sim.log").read_text()
        assert "ingestionBaseUrl" in out
        assert config["clientSecret"] not in out  # endpoints printed, secrets not
    finally:
        proc.stop()
