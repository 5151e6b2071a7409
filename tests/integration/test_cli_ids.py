"""What `pcpub` takes as a run, a release or an offer: anything no request could have named
is a usage error (exit 2) that says the rule and echoes the value cut short, before storage is
asked (a path or a `#` is a key the table service refuses with a 500 or a 400); an empty
`--offer` never widens to everything; and an offer is found by either of its names."""

from __future__ import annotations

import uuid

import pytest

from pcpub.azurite import AzuritePorts
from pcpub.cli import main
from pcpub.processes import free_ports
from shared.ledger import Ledger, Run, RunStatus
from shared.messages import Stage
from shared.pauses import Pauses
from shared.settings import Settings
from shared.storage import table_service

NOT_IDS = ["../../etc/passwd", "a#b", "x" * 5000, "", "run\nnext"]


def _refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    nobody = AzuritePorts(*free_ports(3))  # storage is never asked: nothing listens there
    with pytest.raises(SystemExit) as refused:
        main([*argv, "--connection-string", nobody.connection_string])
    err = capsys.readouterr().err
    assert refused.value.code == 2, argv
    assert "Traceback" not in err and "cannot reach" not in err
    return err


@pytest.mark.parametrize("bad", NOT_IDS, ids=["path", "hash", "long", "empty", "newline"])
def test_an_id_no_request_could_have_is_a_usage_error(
    bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in (["status"], ["approve"], ["reject"], ["cancel"], ["report", "--html", "r"]):
        err = _refused(capsys, *command, bad)
        assert "not a request or release id" in err, command
        assert len(err) < 1000  # the value is cut short, whatever its size
    err = _refused(capsys, "report", "--release", bad, "--html", "r")
    assert "not a request or release id" in err
    nobody = AzuritePorts(*free_ports(3))
    for action in ("status", "redrive"):
        code = main(["release", action, bad, "--connection-string", nobody.connection_string])
        err = capsys.readouterr().err
        assert code == 2 and "not a request or release id" in err and len(err) < 300


@pytest.mark.parametrize("bad", ["", "  ", "a/b", "UPPER-CASE", "*", "offer:", "product:abc"])
def test_an_offer_that_is_no_offer_id_or_guid_is_a_usage_error(
    bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in ("pause", "resume", "runs"):
        err = _refused(capsys, command, "--offer", bad)
        assert "not an offer id" in err, command


def test_an_empty_offer_never_pauses_or_resumes_everything(
    azurite: AzuritePorts, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    pauses = Pauses(Ledger(table_service(settings)), cache_seconds=0)
    with pytest.raises(SystemExit):
        main(["pause", "--offer", "", "--connection-string", azurite.connection_string])
    assert pauses.active(fresh=True) == []


def test_runs_of_an_offer_are_found_by_its_offer_id_or_its_product_guid(
    azurite: AzuritePorts, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    offer, product = f"cli-{uuid.uuid4().hex[:8]}", str(uuid.uuid4())
    table = Ledger(table_service(settings)).table()
    named = {
        "by-offer": {"offer": f"offer:{offer}", "offer_external_id": offer, "product_id": product},
        "by-product": {"offer": f"product:{product}", "offer_external_id": offer},
        "unresolved": {"offer": f"offer:{offer}"},  # refused before it found its product
        "other": {"offer": "offer:someone-else", "product_id": str(uuid.uuid4())},
    }
    ids = {}
    for name, fields in named.items():
        ids[name] = f"{offer}-{name}"
        run = Run(run_id=ids[name], status=RunStatus.SUCCEEDED, stage=Stage.COMPLETE, offer="")
        table.upsert_entity(run.evolve(**fields, created_at="x").to_entity())
    for given, wanted in (
        (offer, {"by-offer", "by-product", "unresolved"}),
        (f"offer:{offer}", {"by-offer", "by-product", "unresolved"}),
        (product.upper(), {"by-offer", "by-product"}),
        (f"product:{product}", {"by-offer", "by-product"}),
    ):
        assert (
            main(["runs", "--offer", given, "--connection-string", azurite.connection_string]) == 0
        )
        listed = {line.split()[0] for line in capsys.readouterr().out.splitlines() if line}
        assert listed == {ids[n] for n in wanted}, given


def test_pausing_an_offer_no_run_has_says_so(
    azurite: AzuritePorts, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = f"no-run-{uuid.uuid4().hex[:8]}"
    argv = ["--offer", typo, "--connection-string", azurite.connection_string]
    assert main(["pause", *argv]) == 0
    said = capsys.readouterr()
    assert f"paused: offer {typo}" in said.out and f"no run of offer {typo}" in said.err
    assert main(["resume", *argv]) == 0
    assert f"resumed offer {typo}" in capsys.readouterr().out
