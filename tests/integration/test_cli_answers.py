"""What `pcpub` answers an operator's mistakes about runs and releases with: a decision or a
cancel that cannot apply, an id that names a release and a run, a release followed past its
time, a release sent as a single request. Each is one line that says why, with an exit code
a script can act on; never "done 0" for what was not done. (Input refused before any work:
test_cli_inputs.)"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from pcpub.azurite import AzuritePorts
from pcpub.ops import Storage
from pcpub.release_follow import follow
from shared.ledger import Ledger, Run, RunStatus
from shared.messages import Stage
from shared.pipeline.effects import Pipeline
from shared.pipeline.intake import accept
from shared.settings import Settings
from shared.storage import table_service
from tests.integration.cli_calls import cli


def _run(settings: Settings, status: RunStatus, **fields: object) -> str:
    run_id = f"cli-{uuid.uuid4().hex[:8]}"
    run = Run(run_id=run_id, status=status, stage=Stage.AWAIT_GO_LIVE, created_at="x")
    Ledger(table_service(settings)).table().upsert_entity(run.evolve(**fields).to_entity())
    return run_id


def test_a_decision_or_cancel_that_cannot_apply_says_why(
    azurite: AzuritePorts, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    ended = _run(settings, RunStatus.SUCCEEDED)
    for command in ("approve", "reject", "cancel"):
        code, said = cli(azurite, capsys, command, ended)
        assert code == 1 and f"{ended} already ended (succeeded)" in said, command
    automatic = _run(settings, RunStatus.WAITING)  # its go-live needs nobody's approval
    code, said = cli(azurite, capsys, "approve", automatic)
    assert code == 1 and "does not wait for a go-live approval" in said
    approved = {"state": "approved", "by": "ana", "at": "2026-12-05T10:00:00Z"}
    waiting = _run(settings, RunStatus.WAITING, go_live="approval", approval=approved)
    code, said = cli(azurite, capsys, "approve", waiting)  # again, as a retried CI job does
    assert code == 0 and f"{waiting} was already approved by ana" in said
    code, said = cli(azurite, capsys, "cancel", waiting)  # this one can: it is asked
    assert code == 0 and f"asked 1 run(s) to stop at their next step: {waiting}" in said
    code, said = cli(azurite, capsys, "cancel", waiting)
    assert code == 0 and "was already asked to stop" in said


def test_a_cancel_of_a_large_release_names_ten_runs_and_counts_the_rest(
    azurite: AzuritePorts, pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    release_id = f"big-{uuid.uuid4().hex[:8]}"
    offers = [{"name": f"o{i:02d}", "offer": {"externalId": f"big-{i}"}} for i in range(14)]
    body = {"schemaVersion": 1, "releaseId": release_id, "target": "preview", "offers": offers}
    accept(pipeline, json.dumps(body), f"m-{release_id}")
    code, said = cli(azurite, capsys, "cancel", release_id)
    assert code == 0 and said.count("\n") == 1
    assert said.startswith("asked 14 run(s) to stop at their next step: ")
    assert said.count(f"{release_id}.o") == 10 and said.endswith(", and 4 more\n")


def test_an_id_naming_a_release_and_a_run_changes_nothing_until_told_which(
    azurite: AzuritePorts,
    pipeline: Pipeline,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The same id sent as a release and as a single request: a cancel meant for the one run
    must not stop the whole release, nor the other way round."""
    both = f"both-{uuid.uuid4().hex[:8]}"
    offers = [{"name": n, "offer": {"externalId": f"both-{n}"}} for n in ("a", "b")]
    body = {"schemaVersion": 1, "releaseId": both, "target": "preview", "offers": offers}
    accept(pipeline, json.dumps(body), f"m-{both}")
    single = Run(
        run_id=both, status=RunStatus.WAITING, stage=Stage.AWAIT_GO_LIVE, go_live="approval"
    )
    pipeline.ledger.table().upsert_entity(single.to_entity())
    members = [f"{both}.a", f"{both}.b"]

    def asked() -> list[str]:
        return [r for r in [both, *members] if (run := pipeline.ledger.get(r)) and run.cancel]

    for command in ("approve", "reject", "cancel"):
        code, said = cli(azurite, capsys, command, both)
        assert code == 2 and said == (
            f"pcpub: {both} names a release of 2 offer(s) and a single request's run; nothing "
            f"was changed: say which, pcpub {command} {both} --release (or --run)\n"
        )
    assert asked() == [] and (run := pipeline.ledger.get(both)) and not run.approval
    code, said = cli(azurite, capsys, "approve", both, "--run")
    assert (code, said) == (0, f"approved the go-live of 1 run(s): {both}\n")
    code, said = cli(azurite, capsys, "cancel", both, "--run")
    assert (code, said) == (0, f"asked 1 run(s) to stop at their next step: {both}\n")
    assert asked() == [both]
    code, said = cli(azurite, capsys, "cancel", both, "--release")
    assert code == 0 and said.startswith("asked 2 run(s) to stop at their next step: ")
    assert asked() == [both, *members]
    with pytest.raises(SystemExit) as refused:
        cli(azurite, capsys, "cancel", both, "--run", "--release")
    assert refused.value.code == 2 and "not allowed with argument" in capsys.readouterr().err
    alone = _run(settings, RunStatus.WAITING)  # a run with no release by its id
    code, said = cli(azurite, capsys, "cancel", alone, "--release")
    assert (code, said) == (1, f"pcpub: no release {alone}\n")
    code, said = cli(azurite, capsys, "release", "status", alone)  # was shown as the release
    assert (code, said) == (1, f"pcpub: no release {alone}\n")


def test_approving_a_release_names_the_offers_not_yet_in_preview(
    azurite: AzuritePorts, pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    """A release's later offer (one that needs another live first) is approved with the
    release, before anyone could see its preview: the answer says which go live unseen."""
    release_id = f"ahead-{uuid.uuid4().hex[:8]}"
    offers = [
        {"name": "base", "offer": {"externalId": "ahead-base"}},
        {"name": "app", "offer": {"externalId": "ahead-app"}, "dependsOn": ["base"]},
    ]
    body = {"schemaVersion": 1, "releaseId": release_id, "target": "live", "offers": offers}
    accept(pipeline, json.dumps({**body, "goLive": "approval"}), f"m-{release_id}")
    base = pipeline.ledger.get(f"{release_id}.base")
    assert base is not None
    pipeline.ledger.replace(base.evolve(stage=Stage.AWAIT_GO_LIVE))
    code, said = cli(azurite, capsys, "approve", release_id)
    assert code == 0 and said.splitlines() == [
        f"approved the go-live of 2 run(s): {release_id}.base, {release_id}.app",
        f"not in preview yet, so they go live once in preview: {release_id}.app",
    ]
    app = pipeline.ledger.get(f"{release_id}.app")
    assert app is not None and app.approval and app.approval["state"] == "approved"


def test_a_release_followed_past_its_time_says_what_holds_it(
    pipeline: Pipeline,
    settings: Settings,
    azurite: AzuritePorts,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`release send --wait live` on a release waiting for its approval: the follow says so
    as the offers get there, and on timeout shows where each offer stands, and why."""
    release_id = f"held-{uuid.uuid4().hex[:8]}"
    offers = [{"name": "a", "offer": {"externalId": "held-a"}}]
    body = {"schemaVersion": 1, "releaseId": release_id, "target": "live", "offers": offers}
    accept(pipeline, json.dumps({**body, "goLive": "approval"}), f"m-{release_id}")
    held = (
        f"in preview, waiting for approval since 2026-12-07T04:02:06Z (pcpub approve {release_id})"
    )
    run = pipeline.ledger.get(f"{release_id}.a")
    assert run is not None
    pipeline.ledger.replace(run.evolve(stage=Stage.AWAIT_GO_LIVE, reason=held))
    said: list[str] = []
    assert settings.storage_connection is not None
    code = follow(
        Storage(settings.storage_connection),
        release_id,
        "live",
        timeout=0.5,
        every=0.1,
        out=said.append,
    )
    assert code == 2
    assert f"a                    in preview (await_go_live): {held}" in said[0]
    assert held in said[-2] and said[-1] == f"release {release_id} did not reach live within 0s"
    code, out = cli(
        azurite, capsys, "release", "status", release_id, "--wait", "live", "--timeout", "0.5"
    )
    assert code == 2 and held in out  # a later job follows it by its id alone
    assert out.endswith(f"release {release_id} did not reach live within 0s\n")
    code, out = cli(azurite, capsys, "release", "status", "no-such-release", "--wait", "live")
    assert code == 1 and out == "pcpub: no release no-such-release\n"  # at once, not at timeout


def test_a_reason_that_would_forge_lines_is_shown_as_one(
    azurite: AzuritePorts, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whatever a reason holds (a service's `\\r\\n`, a terminal escape written by an older
    version), `pcpub status` shows it on its one line."""
    forged = "rejected\r\nfake-run: succeeded\x1b[2J\x9b1A"
    failed = _run(settings, RunStatus.FAILED, reason=forged, last_error="x\ny")
    code, said = cli(azurite, capsys, "status", failed)
    assert code == 0 and "\x1b" not in said and "\x9b" not in said and "\r" not in said
    assert "  reason: rejected fake-run: succeeded[2J1A\n" in said
    assert "  last error: x y\n" in said and "\nfake-run" not in said


def test_a_release_id_given_for_a_run_says_which_command_reads_it(
    azurite: AzuritePorts,
    pipeline: Pipeline,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    release_id = f"which-{uuid.uuid4().hex[:8]}"
    body = {"schemaVersion": 1, "releaseId": release_id, "target": "preview"}
    offers = [{"name": "a", "offer": {"externalId": "which-a"}}]
    accept(pipeline, json.dumps({**body, "offers": offers}), f"m-{release_id}")
    code, said = cli(azurite, capsys, "status", release_id)
    assert code == 1
    assert (
        said == f"pcpub: {release_id} is a release, not a run: pcpub release status {release_id}\n"
    )
    code, said = cli(azurite, capsys, "report", release_id, "--html", str(tmp_path / "r.html"))
    assert code == 1 and f"pcpub report --release {release_id} --html" in said
    code, said = cli(azurite, capsys, "status", "no-such-run-at-all")
    assert code == 1 and said == "pcpub: no run no-such-run-at-all\n"


def test_a_release_and_a_single_request_sent_the_wrong_way_say_which_command_sends_them(
    azurite: AzuritePorts, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    release = tmp_path / "release.json"
    offers = [{"name": "a", "offer": {"externalId": "wrong-a"}}]
    release.write_text(
        json.dumps(
            {"schemaVersion": 1, "releaseId": "wrong-1", "target": "preview", "offers": offers}
        )
    )
    single = tmp_path / "single.json"
    single.write_text(
        json.dumps(
            {
                "schemaVersion": 1,
                "requestId": "wrong-2",
                "offer": offers[0]["offer"],
                "target": "preview",
            }
        )
    )
    code, said = cli(azurite, capsys, "enqueue", str(release))
    assert code == 2
    assert (
        said
        == "pcpub: not sent: this is a release, not a single publish request (pcpub release send)\n"
    )
    code, said = cli(azurite, capsys, "release", "send", str(single))
    assert code == 1 and said.endswith("not a release (pcpub enqueue)\n")
    with pytest.raises(SystemExit) as refused:
        cli(azurite, capsys, "apply", str(release), "--target", "live")
    assert str(refused.value.code) == (
        f"pcpub: not sent: {release} is a release: pcpub release send {release} --wait live"
    )
