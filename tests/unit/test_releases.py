"""Release requests and what a release's runs add up to: pure logic."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from shared.ledger import Run, RunStatus
from shared.messages import Stage
from shared.publish_request import PublishRequest, RequestRejected
from shared.release_request import ReleaseRequest, attempt_of, member_run_id, parse_request
from shared.releases import FAILED, IN_FLIGHT, PREVIEW, Release, dependants, state_of, summarize


def release(offers: list[dict[str, Any]], **extra: Any) -> bytes:
    body = {"schemaVersion": 1, "releaseId": "r1", "target": "live", "offers": offers, **extra}
    return json.dumps(body).encode()


def entry(name: str, *deps: str) -> dict[str, Any]:
    return {"name": name, "offer": {"externalId": f"offer-{name}"}, "dependsOn": list(deps)}


def test_a_release_body_is_told_from_a_single_request() -> None:
    parsed = parse_request(release([entry("aaa"), entry("bbb", "aaa")]))
    assert isinstance(parsed, ReleaseRequest)
    single = json.dumps(
        {"schemaVersion": 1, "requestId": "x1", "offer": {"externalId": "abc"}, "target": "live"}
    )
    assert isinstance(parse_request(single), PublishRequest)


@pytest.mark.parametrize(
    ("offers", "extra", "reason"),
    [
        (
            [entry("aaa", "bbb"), entry("bbb", "ccc"), entry("ccc", "aaa")],
            {},
            "cycle: aaa -> bbb -> ccc -> aaa",
        ),
        ([entry("aaa", "aaa")], {}, "cycle: aaa -> aaa"),
        ([entry("aaa", "nope")], {}, "aaa depends on unknown offers: nope"),
        ([entry("aaa"), entry("aaa")], {}, "offer names used twice: aaa"),
        (
            [entry("aaa"), {**entry("bbb"), "offer": {"externalId": "offer-aaa"}}],
            {},
            "appears twice",
        ),
        (
            [entry("aaa")],
            {"target": "preview", "goLive": "approval"},
            "goLive approval needs target live",
        ),
        (
            [{**entry("aaa"), "needs": "live"}],
            {"target": "preview"},
            "needs live takes target live",
        ),
        ([entry("aaa")], {"maxInFlight": 0}, "maxInFlight"),
        ([], {}, "offers"),
        ([entry("Bad Name")], {}, "offers.0.name"),
    ],
)
def test_releases_that_cannot_be_ordered_are_refused(
    offers: list[dict[str, Any]], extra: dict[str, Any], reason: str
) -> None:
    with pytest.raises(RequestRejected) as refused:
        parse_request(release(offers, **extra))
    assert reason in refused.value.reason
    assert refused.value.request_id == "r1"  # readable by the release's id


def test_each_offer_becomes_a_single_request_with_the_release_settings() -> None:
    parsed = parse_request(
        release([entry("aaa")], goLive="approval", onlyChanged=True, notBefore="2026-12-01T09:00Z")
    )
    assert isinstance(parsed, ReleaseRequest)
    member = parsed.member(parsed.offers[0])
    assert member.request_id == "r1.aaa"
    assert (member.go_live, member.only_changed, member.not_before) == (
        "approval",
        True,
        "2026-12-01T09:00Z",
    )
    assert member.labels == {"release": "r1"}


def run(name: str, status: RunStatus, stage: Stage, target: str = "live") -> Run:
    return Run(run_id=f"r1.{name}", status=status, stage=stage, target=target)


def book(**deps: list[str]) -> Release:
    return Release(
        release_id="r1",
        target="live",
        go_live="approval",
        fingerprint="f",
        max_in_flight=2,
        members={
            n: {"run": f"r1.{n}", "dependsOn": d, "needs": "preview"} for n, d in deps.items()
        },
    )


def test_where_a_run_stands() -> None:
    assert state_of(run("a", RunStatus.WAITING, Stage.AWAIT_GO_LIVE)) == PREVIEW
    assert state_of(run("a", RunStatus.RUNNING, Stage.SUBMIT_PREVIEW)) == IN_FLIGHT
    assert state_of(run("a", RunStatus.CANCELLED, Stage.RESOLVE)) == FAILED
    assert state_of(run("a", RunStatus.SUCCEEDED, Stage.COMPLETE, "preview")) == PREVIEW


def test_a_failure_names_everything_it_holds_back() -> None:
    rel = book(a=[], b=["a"], c=["b"], d=[])
    assert dependants(rel, "a") == ["b", "c"]
    summary = summarize(
        rel,
        {
            "a": run("a", RunStatus.FAILED, Stage.AWAIT_PREVIEW),
            "b": run("b", RunStatus.WAITING, Stage.AWAIT_RELEASE),
            "c": run("c", RunStatus.WAITING, Stage.AWAIT_RELEASE),
            "d": run("d", RunStatus.SUCCEEDED, Stage.COMPLETE),
        },
    )
    assert summary.state == "running"
    assert "a blocks b, c" in summary.describe()


def test_a_chain_blocked_by_one_failure_is_named_once_by_its_head() -> None:
    rel = book(a=[], b=["a"], c=["b"])
    blocked = replace(run("b", RunStatus.FAILED, Stage.AWAIT_RELEASE), blocked_by=["a"])
    summary = summarize(
        rel,
        {
            "a": run("a", RunStatus.FAILED, Stage.AWAIT_PREVIEW),
            "b": blocked,
            "c": replace(blocked, run_id="r1.c"),
        },
    )
    assert summary.state == "failed"
    assert summary.blocked == {"a": ["b", "c"]}
    assert summary.describe().endswith("a blocks b, c")


def test_a_release_is_ready_when_every_offer_is_in_preview_or_unchanged() -> None:
    rel = book(a=[], b=["a"])
    summary = summarize(
        rel,
        {
            "a": run("a", RunStatus.WAITING, Stage.AWAIT_GO_LIVE),
            "b": run("b", RunStatus.UNCHANGED, Stage.UPDATE_DRAFT),
        },
    )
    assert summary.state == "ready"


def test_a_member_runs_attempt_is_read_back_from_its_id() -> None:
    assert member_run_id("bc-1", "base") == "bc-1.base"
    for attempt in (1, 2, 12):
        assert attempt_of(member_run_id("bc-1", "base", attempt), "bc-1", "base") == attempt
    # a member named like an attempt, or another member's run, is no attempt of this one
    assert attempt_of("bc-1.r2", "bc-1", "r2") == 1
    assert attempt_of("bc-1.base.r2", "bc-1", "bas") == 1
    assert attempt_of("bc-1.base.rx", "bc-1", "base") == 1
