"""The simulator as another publisher runs it, on its own (`python -m pcsim`, which is also
`pcpub simulator`; the local stack starts it that way): with a certificate of one's own and a
seed file."""

from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
from pathlib import Path

import pytest
import trustme

from pcpub.cli import main as pcpub
from pcpub.processes import Managed, wait_until
from pcsim.admin import SimulatorClient
from pcsim.cli import main
from pcsim.server import write_json_atomic

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


def test_what_it_cannot_start_with_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A seed, a certificate or a port it cannot use: one line naming it, before anything
    listens or a config is written (each was a traceback, or a config for a dead server)."""
    (tmp_path / "not.json").write_text("{bad")
    (tmp_path / "list.json").write_text("[1]")
    (tmp_path / "odd.json").write_text('{"offers": [{"no": "offerId"}]}')
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    config = tmp_path / "config.json"
    for argv, said in (
        (["--seed", str(tmp_path / "missing.json")], "missing.json: No such file"),
        (["--seed", str(tmp_path / "not.json")], "not.json is not JSON"),
        (["--seed", str(tmp_path / "list.json")], "list.json is not a JSON object"),
        (["--seed", str(tmp_path / "odd.json")], "odd.json is not of the seed's shape"),
        (["--tls-cert", str(tmp_path / "not.json"), "--tls-key", "k"], "--tls-cert/--tls-key"),
        (["--port", str(taken.getsockname()[1])], "Address already in use"),
    ):
        with pytest.raises(SystemExit) as refused:
            main([*argv, "--write-config", str(config)])
        assert str(refused.value.code).startswith("pcsim: cannot start: "), argv
        assert said in str(refused.value.code) and "\n" not in str(refused.value.code), argv
        assert not config.exists()
    taken.close()
    for argv in (["--port", "70000"], ["--port", "-1"], ["--token-lifetime", "0"]):
        with pytest.raises(SystemExit) as refused:
            main(argv)
        assert refused.value.code == 2 and "a whole number from" in capsys.readouterr().err
    for run in (main, lambda argv: pcpub(["up", *argv])):  # a directory, before any start
        with pytest.raises(SystemExit) as refused:
            run(["--write-config", str(tmp_path)])
        assert refused.value.code == 2 and "is a directory, not a file" in capsys.readouterr().err


def test_a_config_that_cannot_be_written_leaves_no_copy_of_its_secrets(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    with pytest.raises(IsADirectoryError):
        write_json_atomic(tmp_path / "taken", {"identityClientSecret": "s3cret"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_the_certificates_it_made_go_when_it_stops(tmp_path: Path) -> None:
    """Run without a state directory, the simulator keeps the CA and the server's private key
    it made in a temporary directory of its own, and removes it when it stops (each run left
    one behind), or when it cannot start."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    config_path = tmp_path / "config.json"
    proc = Managed(
        "simulator",
        [sys.executable, "-m", "pcsim", "--write-config", str(config_path)],
        tmp_path / "sim.log",
        env={**os.environ, "TMPDIR": str(scratch)},
        cwd=ROOT,
    )
    try:
        wait_until(config_path.exists, 30, "the simulator's config", proc)
        ca = Path(json.loads(config_path.read_text())["caCertPath"])
        assert ca.is_file() and ca.parent.parent == scratch
        assert sorted(p.name for p in ca.parent.iterdir()) == ["ca.pem", "server.key", "server.pem"]
    finally:
        proc.stop()
    assert proc.popen.returncode == 0
    assert list(scratch.iterdir()) == []


def test_a_start_that_fails_leaves_no_certificates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    with pytest.raises(SystemExit, match="Address already in use"):
        main(["--port", str(taken.getsockname()[1])])
    taken.close()
    assert list(scratch.iterdir()) == []
