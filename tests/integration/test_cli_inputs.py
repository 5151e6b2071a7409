"""What `pcpub` answers an operator's input with before any work: storage out of reach (a
stopped stack, a stale `--config`) or refusing (a wrong key), a filter, an id or a file that
is not what it should be, a reason that would forge lines, a config or settings file it
cannot take, a file that never ends. Each is one line that says why, with an exit code a
script can act on; never the SDK's traceback, never the key."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from pcpub.argtypes import write_file
from pcpub.azurite import DEV_KEY, AzuritePorts
from pcpub.cli import main
from pcpub.control_cli import actor
from pcpub.processes import free_ports
from tests.integration.cli_calls import cli, connection

COMMANDS = [
    ["status", "some-run"],
    ["runs"],
    ["approve", "some-run"],
    ["release", "status", "some-release"],
    ["poison", "list"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
def test_storage_out_of_reach_is_one_line(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    nobody = AzuritePorts(*free_ports(3))  # nothing listens there
    code = main([*command, "--connection-string", connection(nobody)])
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
    code = main(["enqueue", str(request), "--connection-string", connection(nobody)])
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
    code = main([*command, "--connection-string", connection(azurite, key)])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("pcpub: the storage account refused (403): ") and err.count("\n") == 1
    assert key not in err


def test_unknown_filters_ids_and_files_are_refused(
    azurite: AzuritePorts, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as bad_state:
        cli(azurite, capsys, "runs", "--state", "bogus")
    assert bad_state.value.code == 2 and "invalid choice: 'bogus'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as bad_limit:
        cli(azurite, capsys, "runs", "--limit", "0")
    assert bad_limit.value.code == 2 and "from 1 to 1000" in capsys.readouterr().err
    code, said = cli(azurite, capsys, "poison", "redrive", "no-such-letter")
    assert code == 1 and "no open dead letter no-such-letter" in said
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    for argv in (("plan", str(garbage)), ("plan", str(tmp_path / "missing.json"))):
        with pytest.raises(SystemExit) as refused:
            cli(azurite, capsys, *argv)
        assert str(refused.value.code).startswith("pcpub: "), argv
        assert "Traceback" not in str(refused.value.code)
    code, said = cli(azurite, capsys, "release", "send", str(garbage))
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
            main([*argv, str(where), "--connection-string", connection(nobody)])
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
            main([*command, option, value, "--connection-string", connection(nobody)])
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
    code, said = cli(azurite, capsys, "enqueue", endless)
    assert code == 2
    assert said == f"pcpub: not sent: {endless} is over 49152 bytes, more than a request holds\n"
    code, said = cli(azurite, capsys, "release", "send", endless)
    assert code == 1 and said.startswith("pcpub: not sent: ") and said.count("\n") == 1
    for argv in (("plan", endless), ("apply", endless, "--target", "preview")):
        with pytest.raises(SystemExit) as refused:
            cli(azurite, capsys, *argv)
        assert str(refused.value.code) == (
            f"pcpub: request file {endless} is over 1048576 bytes, more than a request holds"
        )
    with pytest.raises(SystemExit) as refused:
        main(["status", "some-run", "--config", endless])
    assert "is over 1048576 bytes" in str(refused.value.code)
