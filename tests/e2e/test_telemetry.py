"""Telemetry end to end, offline: the local host exports to an OTLP/HTTP collector on
loopback (the same configuration path Azure takes, with another exporter), and each run comes
back as one trace whose Partner Center spans are exactly the calls the simulator served."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from pcpub.ops import Storage
from pcpub.stack import LocalStack
from pcsim.admin import SimulatorClient
from tests.conftest import assert_conforms, reference
from tests.e2e.conftest import publish, wait_terminal
from tests.otlp import OtlpReceiver, Span
from tests.receivers import Receiver

RUNS = {"req-traced-a": "traced-a", "req-traced-b": "traced-b"}
SINKS = [{"name": "hook", "kind": "webhook", "urlSecret": "hook-url", "signingSecret": "hook-key"}]


@pytest.fixture(scope="module")
def otlp() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, otlp: OtlpReceiver) -> Iterator[LocalStack]:
    telemetry = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "OTEL_BLRP_SCHEDULE_DELAY": "200",
        "OTEL_METRIC_EXPORT_INTERVAL": "1000",
        "PC_NOTIFY_SINKS": json.dumps(SINKS),
    }
    with LocalStack(
        tmp_path_factory.mktemp("telemetry"),
        profile="fast",
        lease_seconds=4,
        contract=reference(),
        extra_settings=telemetry,
    ) as running:
        yield running
        assert_conforms(running.sim_config)


@pytest.fixture(scope="module")
def published(
    stack: LocalStack, storage: Storage, admin: SimulatorClient, otlp: OtlpReceiver
) -> dict[str, Any]:
    """Two offers to live, one Partner Center call throttled once, a webhook listening."""
    hook = Receiver(stack.sim_config["caCertPath"])
    try:
        admin.put_secret("hook-url", hook.url, rotate_app=False)
        admin.put_secret("hook-key", "telemetry-key", rotate_app=False)
        products = {offer: admin.add_offer(offer, ["basic"])["id"] for offer in RUNS.values()}
        admin.set_faults(
            rules=[{"method": "GET", "path": "/branches/", "status": 429, "retryAfter": "1"}]
        )
        for request_id, offer in RUNS.items():
            publish(storage, request_id, offer, "live")
        for request_id in RUNS:
            run = wait_terminal(storage, request_id)
            assert str(run.status) == "succeeded", run.reason
        served = admin.requests()
        assert otlp.wait_for(lambda r: _flushed(r, served)), "the spans did not all arrive"
        assert otlp.wait_for(lambda r: "pcpub.runs.ended" in r.metrics)
        assert hook.got, "the webhook heard nothing"
    finally:
        admin.clear_faults()
        hook.close()
    return {"served": served, "products": products}


def _calls_of(served: list[dict[str, Any]], request_id: str) -> set[str]:
    return {
        r["clientRequestId"]
        for r in served
        if (r.get("clientRequestId") or "").startswith(f"{request_id}.")
    }


def _pc_spans(otlp: OtlpReceiver) -> list[Span]:
    return [s for s in otlp.spans if s.attributes.get("pc.call")]


def _flushed(otlp: OtlpReceiver, served: list[dict[str, Any]]) -> bool:
    seen = {s.attributes.get("pc.clientRequestId") for s in _pc_spans(otlp)}
    done = {  # the stage span that ended the run (its check saw the offer live)
        s.attributes.get("requestId")
        for s in otlp.spans
        if s.name.startswith("stage ") and s.attributes.get("outcome") == "finished"
    }
    return set(RUNS) <= done and all(_calls_of(served, r) <= seen for r in RUNS)


def test_each_run_is_one_trace_from_its_root(published: Any, otlp: OtlpReceiver) -> None:
    traces = {}
    for request_id in RUNS:
        [root] = [
            s
            for s in otlp.spans
            if s.name == "publish run" and s.attributes.get("requestId") == request_id
        ]
        assert root.parent_id == ""
        stages = [
            s
            for s in otlp.spans
            if s.name.startswith("stage ") and s.attributes.get("requestId") == request_id
        ]
        assert {s.attributes["stage"] for s in stages} >= {  # no change: no draft stage
            "resolve",
            "submit_preview",
            "await_preview",
            "promote",
            "await_live",
        }  # the check that reads the offer live ends the run: no span of its own for complete
        assert {s.trace_id for s in stages} == {root.trace_id}
        assert {s.parent_id for s in stages} == {root.span_id}
        assert not any(s.error for s in stages)
        traces[request_id] = root.trace_id
    assert len(set(traces.values())) == len(RUNS)


def test_a_span_for_every_partner_center_call_and_no_other(
    published: Any, otlp: OtlpReceiver
) -> None:
    spans = {s.span_id: s for s in otlp.spans}
    for request_id in RUNS:
        mine = [
            s
            for s in _pc_spans(otlp)
            if str(s.attributes["pc.clientRequestId"]).startswith(f"{request_id}.")
        ]
        crids = [s.attributes["pc.clientRequestId"] for s in mine]
        assert len(crids) == len(set(crids))
        assert set(crids) == _calls_of(published["served"], request_id)
        for span in mine:  # under one of its run's stage spans, named by route, no id in it
            parent = spans[span.parent_id]
            assert parent.name.startswith("stage ")
            assert parent.attributes["requestId"] == request_id
            assert (
                span.name
                == f"PC {span.attributes['http.method']} {span.attributes['url.template']}"
            )
            assert not any(p in span.name for p in published["products"].values())
    [throttled] = [s for s in _pc_spans(otlp) if s.attributes.get("pc.throttled")]
    assert throttled.attributes["pc.retryAfter"] == "1"
    assert throttled.attributes["http.status_code"] == 429
    assert throttled.attributes["url.template"].startswith("products/{id}/branches/getByModule(")


def test_logs_carry_flat_dimensions_and_their_trace(published: Any, otlp: OtlpReceiver) -> None:
    roots = {s.attributes["requestId"]: s.trace_id for s in otlp.spans if s.name == "publish run"}
    for request_id, offer in RUNS.items():
        [done] = [
            r
            for r in otlp.logs
            if r.attributes.get("action") == "run_succeeded"
            and r.attributes.get("requestId") == request_id
        ]
        assert done.trace_id == roots[request_id]
        assert done.attributes["offer"] == f"offer:{offer}"  # the run's offer key
        assert done.attributes["productId"] == published["products"][offer]
        assert done.attributes["stage"] == "await_live"  # the check that saw it live
        assert done.attributes["outcome"] == "finished"
        assert done.attributes["submissionId"]
        changed = [
            r
            for r in otlp.logs
            if r.attributes.get("kind") == "stage-changed"
            and r.attributes.get("requestId") == request_id
        ]
        assert changed and all(r.trace_id == roots[request_id] for r in changed)


def test_metrics_count_runs_calls_and_waits(published: Any, otlp: OtlpReceiver) -> None:
    expected = {f"offer:{offer}" for offer in RUNS.values()}

    def succeeded(r: OtlpReceiver) -> set[str]:
        ended = r.metrics.get("pcpub.runs.ended", [])
        return {p["offer"] for p in ended if p["outcome"] == "succeeded"}

    # Metrics go out every export interval: wait for the export that holds both runs' ends,
    # not the first one that holds any stage's duration.
    otlp.wait_for(lambda r: "pcpub.stage.duration" in r.metrics and succeeded(r) >= expected)
    assert succeeded(otlp) == expected
    calls = otlp.metrics["pcpub.pc.calls"]
    assert any(p["class"] == "throttled" and p["status"] == 429 for p in calls)
    assert all("{id}" in p["route"] or p["route"].count("/") == 0 for p in calls)
    durations = {p["stage"] for p in otlp.metrics["pcpub.stage.duration"]}
    assert {"resolve", "await_preview", "await_live"} <= durations
    waits = {p["stage"] for p in otlp.metrics["pcpub.certification.wait"]}
    assert waits == {"await_preview", "await_live"}


def test_no_secret_or_sink_token_reaches_the_collector(
    published: Any, otlp: OtlpReceiver, stack: LocalStack
) -> None:
    hook_spans = [s for s in otlp.spans if s.name.startswith("POST 127.0.0.1")]
    assert hook_spans, "the webhook deliveries were not traced"
    secret = stack.settings["VAULT_CLIENT_SECRET"]
    texts = [repr(s) for s in otlp.spans] + [repr(r) for r in otlp.logs]
    assert not any("token-in-url" in t or "telemetry-key" in t or secret in t for t in texts)
