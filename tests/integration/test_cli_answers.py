"""What `pcpub` answers an operator's mistakes with: storage out of reach (a stopped stack, a
stale `--config`) or refusing (a wrong key), a file that is not a request, a decision or a
cancel that cannot apply, an id or a filter that does not exist. Each is one line that says
why, with an exit code a script can act on; never the SDK's traceback, never the key, never
"done 0" for what was not done."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path

import pytest

from pcpub.argtypes import write_file
from pcpub.azurite import DEV_KEY, AzuritePorts
from pcpub.cli import main
from pcpub.control_cli import actor
from pcpub.ops import Storage
from pcpub.processes import free_ports
from pcpub.release_follow import follow
from shared.ledger import Ledger, Run, RunStatus
from shared.messages import Stage
from shared.pipeline.effects import Pipeline
from shared.pipeline.intake import accept
from shared.settings import Settings
from shared.storage import table_service

COMMANDS = [
    ["status", "some-run"],
    ["runs"],
    ["approve", "some-run"],
    ["release", "status", "some-release"],
    ["poison", "list"],
]


def _connection(ports: AzuritePorts, key: str = DEV_KEY) -> str:
    return ports.connection_string.replace(DEV_KEY, key)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
def test_storage_out_of_reach_is_one_line(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    nobody = AzuritePorts(*free_ports(3))  # nothing listens there
    code = main([*command, "--connection-string", _connection(nobody)])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("pcpub: cannot reach the storage account: ") and err.count("\n") == 1
    assert "Traceback" not in err and DEV_KEY not in err


def test_a_request_not_sent_says_where_it_could_not_go(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = tmp_path / "request.json"
    request.write_text(
        '{"schemaVersion":1,"requestId":"r-1","offer":{"externalId":"some-offer"},"target":"preview"}'
    )
    nobody = AzuritePorts(*free_ports(3))
    code = main(["enqueue", str(request), "--connection-string", _connection(nobody)])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert err.startswith("pcpub: not sent: cannot reach the storage account: ")


def test_a_malformed_connection_string_is_one_line_without_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    malformed = f"AccountName=devstoreaccount1;Key={DEV_KEY}"
    with pytest.raises(SystemExit) as refused:
        main(["status", "some-run", "--connection-string", malformed])
    said = str(refused.value.code)
    assert said.startswith("pcpub: not a storage connection string: ") and DEV_KEY not in said


@pytest.mark.parametrize("command", COMMANDS[:2], ids=lambda c: " ".join(c))
def test_a_wrong_key_is_one_line_without_the_key(
    command: list[str], azurite: AzuritePorts, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = base64.b64encode(b"not the account's key, 64 bytes long........................")
    key = wrong.decode()
    code = main([*command, "--connection-string", _connection(azurite, key)])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("pcpub: the storage account refused (403): ") and err.count("\n") == 1
    assert key not in err


def _run(settings: Settings, status: RunStatus, **fields: object) -> str:
    run_id = f"cli-{uuid.uuid4().hex[:8]}"
    run = Run(run_id=run_id, status=status, stage=Stage.AWAIT_GO_LIVE, created_at="x")
    Ledger(table_service(settings)).table().upsert_entity(run.evolve(**fields).to_entity())
    return run_id


def _cli(azurite: AzuritePorts, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main([*argv, "--connection-string", azurite.connection_string])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_a_decision_or_cancel_that_cannot_apply_says_why(
    azurite: AzuritePorts, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    ended = _run(settings, RunStatus.SUCCEEDED)
    for command in ("approve", "reject", "cancel"):
        code, said = _cli(azurite, capsys, command, ended)
        assert code == 1 and f"{ended} already ended (succeeded)" in said, command
    automatic = _run(settings, RunStatus.WAITING)  # its go-live needs nobody's approval
    code, said = _cli(azurite, capsys, "approve", automatic)
    assert code == 1 and "does not wait for a go-live approval" in said
    approved = {"state": "approved", "by": "ana", "at": "2026-12-05T10:00:00Z"}
    waiting = _run(settings, RunStatus.WAITING, go_live="approval", approval=approved)
    code, said = _cli(azurite, capsys, "approve", waiting)  # again, as a retried CI job does
    assert code == 0 and f"{waiting} was already approved by ana" in said
    code, said = _cli(azurite, capsys, "cancel", waiting)  # this one can: it is asked
    assert code == 0 and f"asked 1 run(s) to stop at their next step: {waiting}" in said
    code, said = _cli(azurite, capsys, "cancel", waiting)
    assert code == 0 and "was already asked to stop" in said


def test_a_cancel_of_a_large_release_names_ten_runs_and_counts_the_rest(
    azurite: AzuritePorts, pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    release_id = f"big-{uuid.uuid4().hex[:8]}"
    offers = [{"name": f"o{i:02d}", "offer": {"externalId": f"big-{i}"}} for i in range(14)]
    body = {"schemaVersion": 1, "releaseId": release_id, "target": "preview", "offers": offers}
    accept(pipeline, json.dumps(body), f"m-{release_id}")
    code, said = _cli(azurite, capsys, "cancel", release_id)
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
        code, said = _cli(azurite, capsys, command, both)
        assert code == 2 and said == (
            f"pcpub: {both} names a release of 2 offer(s) and a single request's run; nothing "
            f"was changed: say which, pcpub {command} {both} --release (or --run)\n"
        )
    assert asked() == [] and (run := pipeline.ledger.get(both)) and not run.approval
    code, said = _cli(azurite, capsys, "approve", both, "--run")
    assert (code, said) == (0, f"approved the go-live of 1 run(s): {both}\n")
    code, said = _cli(azurite, capsys, "cancel", both, "--run")
    assert (code, said) == (0, f"asked 1 run(s) to stop at their next step: {both}\n")
    assert asked() == [both]
    code, said = _cli(azurite, capsys, "cancel", both, "--release")
    assert code == 0 and said.startswith("asked 2 run(s) to stop at their next step: ")
    assert asked() == [both, *members]
    with pytest.raises(SystemExit) as refused:
        _cli(azurite, capsys, "cancel", both, "--run", "--release")
    assert refused.value.code == 2 and "not allowed with argument" in capsys.readouterr().err
    alone = _run(settings, RunStatus.WAITING)  # a run with no release by its id
    code, said = _cli(azurite, capsys, "cancel", alone, "--release")
    assert (code, said) == (1, f"pcpub: no release {alone}\n")
    code, said = _cli(azurite, capsys, "release", "status", alone)  # was shown as the release
    assert (code, said) == (1, f"pcpub: no release {alone}\n")


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
    code, out = _cli(
        azurite, capsys, "release", "status", release_id, "--wait", "live", "--timeout", "0.5"
    )
    assert code == 2 and held in out  # a later job follows it by its id alone
    assert out.endswith(f"release {release_id} did not reach live within 0s\n")
    code, out = _cli(azurite, capsys, "release", "status", "no-such-release", "--wait", "live")
    assert code == 1 and out == "pcpub: no release no-such-release\n"  # at once, not at timeout


def test_a_reason_that_would_forge_lines_is_shown_as_one(
    azurite: AzuritePorts, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whatever a reason holds (a service's `\\r\\n`, a terminal escape written by an older
    version), `pcpub status` shows it on its one line."""
    forged = "rejected\r\nfake-run: succeeded\x1b[2J\x9b1A"
    failed = _run(settings, RunStatus.FAILED, reason=forged, last_error="x\ny")
    code, said = _cli(azurite, capsys, "status", failed)
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
    code, said = _cli(azurite, capsys, "status", release_id)
    assert code == 1
    assert (
        said == f"pcpub: {release_id} is a release, not a run: pcpub release status {release_id}\n"
    )
    code, said = _cli(azurite, capsys, "report", release_id, "--html", str(tmp_path / "r.html"))
    assert code == 1 and f"pcpub report --release {release_id} --html" in said
    code, said = _cli(azurite, capsys, "status", "no-such-run-at-all")
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
    code, said = _cli(azurite, capsys, "enqueue", str(release))
    assert code == 2
    assert (
        said
        == "pcpub: not sent: this is a release, not a single publish request (pcpub release send)\n"
    )
    code, said = _cli(azurite, capsys, "release", "send", str(single))
    assert code == 1 and said.endswith("not a release (pcpub enqueue)\n")
    with pytest.raises(SystemExit) as refused:
        _cli(azurite, capsys, "apply", str(release), "--target", "live")
    assert str(refused.value.code) == (
        f"pcpub: not sent: {release} is a release: pcpub release send {release} --wait live"
    )


def test_unknown_filters_ids_and_files_are_refused(
    azurite: AzuritePorts, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as bad_state:
        _cli(azurite, capsys, "runs", "--state", "bogus")
    assert bad_state.value.code == 2 and "invalid choice: 'bogus'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as bad_limit:
        _cli(azurite, capsys, "runs", "--limit", "0")
    assert bad_limit.value.code == 2 and "from 1 to 1000" in capsys.readouterr().err
    code, said = _cli(azurite, capsys, "poison", "redrive", "no-such-letter")
    assert code == 1 and "no open dead letter no-such-letter" in said
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    for argv in (("plan", str(garbage)), ("plan", str(tmp_path / "missing.json"))):
        with pytest.raises(SystemExit) as refused:
            _cli(azurite, capsys, *argv)
        assert str(refused.value.code).startswith("pcpub: "), argv
        assert "Traceback" not in str(refused.value.code)
    code, said = _cli(azurite, capsys, "release", "send", str(garbage))
    assert code == 1 and said.startswith("pcpub: not sent: ") and said.count("\n") == 1


@pytest.mark.parametrize(
    "argv",
    [["report", "some-run", "--html"], ["export", "some-offer", "--out"]],
    ids=["report", "export"],
)
def test_a_file_that_cannot_be_written_is_refused_before_any_work(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nobody = AzuritePorts(*free_ports(3))  # refused before any storage call, or it would say so
    for where, said in (
        (tmp_path, "is a directory, not a file"),
        (tmp_path / "no-such-folder" / "x.html", "no folder"),
    ):
        with pytest.raises(SystemExit) as refused:
            main([*argv, str(where), "--connection-string", _connection(nobody)])
        err = capsys.readouterr().err
        assert refused.value.code == 2 and said in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [
        ("--reason", "line one\nline two", "one line, without control characters"),
        ("--reason", "\x1b[2Jcleared", "one line, without control characters"),
        ("--reason", "\x9b31mred", "one line, without control characters"),
        ("--reason", "x" * 501, "at most 500 characters, not 501"),
        ("--by", "y" * 101, "at most 100 characters, not 101"),
        ("--by", "ana\r\nforged: line", "one line, without control characters"),
    ],
    ids=["newline", "escape", "c1-control", "long-reason", "long-name", "crlf-name"],
)
def test_what_an_operator_says_is_one_bounded_line(
    option: str, value: str, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A reason or a name is kept on every run it touches and shown in terminals, logs and
    events: refused before anything is written when it could forge lines or grow rows."""
    nobody = AzuritePorts(*free_ports(3))
    for command in (["pause"], ["cancel", "some-run"], ["reject", "some-run"]):
        with pytest.raises(SystemExit) as refused:
            main([*command, option, value, "--connection-string", _connection(nobody)])
        err = capsys.readouterr().err
        assert refused.value.code == 2 and said in err, command


def test_who_acted_is_taken_from_the_environment_made_plain(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PCPUB_ACTOR", "ci\x1b[31m-bot\n" + "z" * 200)
    assert actor() == "ci[31m-bot " + "z" * 89
    monkeypatch.setenv("PCPUB_ACTOR", "\n\t")
    for name in ("GITHUB_ACTOR", "BUILD_REQUESTEDFOR", "USER"):
        monkeypatch.delenv(name, raising=False)
    assert actor() == "operator"


def test_a_write_that_fails_is_one_line() -> None:
    with pytest.raises(SystemExit) as refused:
        write_file("/dev/full", "<html>")
    assert str(refused.value.code) == "pcpub: cannot write /dev/full: No space left on device"


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (None, "cannot read --config"),
        ("{not json", "is not JSON"),
        ("[1]", "is not a JSON object"),
        ("{}", "has no storageConnectionString"),
        ('{"storageConnectionString": 7}', "has no storageConnectionString"),
    ],
    ids=["missing", "not-json", "a-list", "no-key", "not-a-string"],
)
def test_a_config_file_that_is_no_stacks_is_one_line(
    content: str | None, said: str, tmp_path: Path
) -> None:
    config = tmp_path / "pcpub.json"
    if content is not None:
        config.write_text(content)
    with pytest.raises(SystemExit) as refused:
        main(["status", "some-run", "--config", str(config)])
    message = str(refused.value.code)
    assert message.startswith("pcpub: ") and said in message and "\n" not in message


def test_a_settings_file_the_host_cannot_take_is_one_line(tmp_path: Path) -> None:
    settings = tmp_path / "local.settings.json"
    for content, said in (
        (None, "cannot read --settings"),
        ("{x", "is not JSON"),
        ('{"Values": 1}', "are not an object of settings"),
    ):
        if content is not None:
            settings.write_text(content)
        with pytest.raises(SystemExit) as refused:
            main(["host", "--settings", str(settings)])
        assert str(refused.value.code).startswith("pcpub: ") and said in str(refused.value.code)


def test_a_file_that_never_ends_is_refused_having_read_past_no_request(
    azurite: AzuritePorts, capsys: pytest.CaptureFixture[str]
) -> None:
    """`/dev/zero` (or a pipe that never ends) given as a request, a release or a config was
    read until memory ran out; it is refused at once, one line, and nothing is sent."""
    endless = "/dev/zero"
    code, said = _cli(azurite, capsys, "enqueue", endless)
    assert code == 2
    assert said == f"pcpub: not sent: {endless} is over 49152 bytes, more than a request holds\n"
    code, said = _cli(azurite, capsys, "release", "send", endless)
    assert code == 1 and said.startswith("pcpub: not sent: ") and said.count("\n") == 1
    for argv in (("plan", endless), ("apply", endless, "--target", "preview")):
        with pytest.raises(SystemExit) as refused:
            _cli(azurite, capsys, *argv)
        assert str(refused.value.code) == (
            f"pcpub: request file {endless} is over 1048576 bytes, more than a request holds"
        )
    with pytest.raises(SystemExit) as refused:
        main(["status", "some-run", "--config", endless])
    assert "is over 1048576 bytes" in str(refused.value.code)
