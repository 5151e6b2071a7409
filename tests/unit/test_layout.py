"""The app declares what the docs and the infrastructure rely on."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from pcpub.host.indexing import load_functions
from pcpub.host.settings import read_host_json, timespan_seconds
from shared.messages import Stage
from shared.pipeline.stages import ORDER, POLLED_STAGES, STAGES
from shared.queues import CHECKS, PUBLISH_REQUESTS, STAGE_QUEUES

ROOT = Path(__file__).resolve().parents[2]


def test_declared_functions_and_their_triggers() -> None:
    specs = load_functions(ROOT)
    functions = {f.name: f.trigger for f in specs}
    stage_functions = {stage.value for stage in STAGE_QUEUES}
    assert (
        set(functions)
        == {"intake", "poller", "check", "deadletters", "archiver", "notify", "warmup"}
        | stage_functions
    )
    # The host runs its warmup function (known by that name) on an instance added to scale out.
    assert functions["warmup"]["type"] == "warmupTrigger"
    # No function is triggered by a poison queue: a body that fails to decode there would be
    # poisoned again (`-poison-poison`); a timer sweeps them with a raw client instead.
    assert not any(str(t.get("queueName", "")).endswith("-poison") for t in functions.values())
    assert functions["deadletters"]["schedule"] == "%DEADLETTER_SCHEDULE%"
    assert functions["intake"]["queueName"] == PUBLISH_REQUESTS
    for stage, queue in STAGE_QUEUES.items():
        assert functions[stage.value] == {
            "direction": "IN",
            "type": "queueTrigger",
            "name": "msg",
            "queueName": queue,
            "connection": "AzureWebJobsStorage",
        }
    assert functions["poller"]["type"] == "timerTrigger"
    assert functions["poller"]["schedule"] == "%POLL_SCHEDULE%"
    assert functions["poller"]["runOnStartup"] is False
    # The tick only finds due checks; each runs as queue work, on any instance.
    assert functions["check"]["queueName"] == CHECKS
    assert functions["archiver"]["type"] == "timerTrigger"
    # Hand-offs: output bindings only ever write to stage queues, with the host's encoding.
    outputs = {f.name: {o["queueName"] for o in f.outputs} for f in specs}
    assert outputs["intake"] == {STAGE_QUEUES[Stage.RESOLVE]}
    assert outputs["update_draft"] == {STAGE_QUEUES[Stage.SUBMIT_PREVIEW]}
    # A run ends in the stage that sees it live: nothing hands off to `complete` any more.
    assert STAGE_QUEUES[Stage.COMPLETE] not in set().union(*outputs.values())
    assert outputs["poller"] == {CHECKS} | outputs["check"]
    assert CHECKS not in outputs["check"]  # a check never dispatches a check
    assert set().union(*outputs.values()) <= {*STAGE_QUEUES.values(), CHECKS}


def test_every_stage_is_queue_driven_or_polled() -> None:
    assert set(ORDER) == set(Stage)
    assert set(STAGES) == set(Stage) - {Stage.INTAKE}
    assert set(STAGE_QUEUES) == set(STAGES) - POLLED_STAGES


def test_readme_names_the_functions_and_queues() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in [PUBLISH_REQUESTS, *STAGE_QUEUES.values(), CHECKS]:
        assert f"`{name}`" in readme


def test_host_json_queue_settings() -> None:
    settings = read_host_json(ROOT / "host.json")
    assert settings.message_encoding == "base64"
    assert settings.max_dequeue_count == 5
    assert settings.visibility_timeout > 0  # failures must not burn retries back to back
    assert json.loads((ROOT / "host.json").read_text())["version"] == "2.0"


def test_timespans() -> None:
    assert timespan_seconds("00:00:30") == 30
    assert timespan_seconds("1.02:03:04.5") == 86400 + 7384.5


def test_requirements_match_the_runtime_dependencies() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    lines = [
        ln.strip()
        for ln in (ROOT / "requirements.txt").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    assert sorted(lines) == sorted(declared)
    assert all(re.search(r"[<>]", ln) for ln in lines)  # ranges, not pins


def test_shared_never_imports_the_local_package_or_triggers() -> None:
    for path in (ROOT / "shared").rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s*(from|import) (pcpub|pcsim|functions)\b", text, re.M), path
        assert "azure.functions" not in text, path


def test_the_simulator_stands_alone() -> None:
    """The simulator is an independent stand-in for the service: it shares no code with the
    client it checks, so a bug in one cannot hide the same bug in the other."""
    for path in (ROOT / "pcsim").rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s*(from|import) (shared|pcpub|functions)\b", text, re.M), path


def test_calls_draw_on_the_budget_by_what_they_lead_to() -> None:
    """Calls leading up to a submission first (its certification starts sooner), those of a
    run already past its lookup before another run's lookup, status polls and gates last, the
    rest between."""
    from shared.partnercenter.call_priority import Priority
    from shared.pipeline.runner import call_priority

    assert call_priority(Stage.RESOLVE) is Priority.START
    assert call_priority(Stage.SUBMIT_PREVIEW) is Priority.SUBMIT
    assert call_priority(Stage.UPDATE_DRAFT) is Priority.SUBMIT
    assert call_priority(Stage.UPLOAD_PACKAGE) is Priority.SUBMIT
    assert call_priority(Stage.PROMOTE) is Priority.FINISH
    assert call_priority(Stage.PLAN) is Priority.FINISH
    assert call_priority(Stage.AWAIT_LIVE) is Priority.LAST  # finds the run done, or nothing
    assert {call_priority(s) for s in POLLED_STAGES - {Stage.AWAIT_LIVE}} == {Priority.POLL}


def test_the_deployed_package_leaves_out_what_runs_off_azure() -> None:
    ignored = set((ROOT / ".funcignore").read_text().split())
    assert {"pcpub/", "pcsim/", "tests/", "bench/", "infra/"} <= ignored
