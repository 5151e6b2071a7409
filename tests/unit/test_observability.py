"""Telemetry's pure parts: routes without ids, log dimensions, trace contexts from untrusted
messages, what the stage durations are, what the distro is given, and the exported log
records' scrubbing (the whole path runs end to end in tests/e2e/test_telemetry.py)."""

from __future__ import annotations

import logging
from collections import namedtuple

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider

from shared import redaction
from shared.messages import Stage, StageMessage
from shared.observability import setup as telemetry
from shared.observability.dimensions import DIMENSIONS, DimensionFilter, current, dimensions
from shared.observability.metrics import closed_records
from shared.observability.tracing import (
    context_of,
    http_request_hook,
    http_response_hook,
    valid_traceparent,
)
from shared.partnercenter.paths import route_template
from shared.runs import Run, RunStatus, StageRecord
from shared.settings import Settings, SettingsError

GOOD = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("products/3f1c2a9e-1111-4bbb-8ccc-123456789abc", "products/{id}"),
        (
            "/v1.0/ingestion/products/p1/submissions/1152921505/promote",
            "products/{id}/submissions/{id}/promote",
        ),
        ("v1.0/ingestion/products?$filter=x eq '1'", "products"),
        (
            "https://h/v1.0/ingestion/products/a1/branches/getByModule(module=Package)",
            "products/{id}/branches/getByModule(module=Package)",
        ),
        (
            "products/a1/listings/getByInstanceID(instanceID=ab-12)",
            "products/{id}/listings/getByInstanceID(instanceID={id})",
        ),
        ("https://h/rp/product-ingestion/product", "product"),
    ],
)
def test_routes_name_no_ids(path: str, route: str) -> None:
    assert route_template(path) == route


def test_dimensions_nest_and_records_keep_their_own() -> None:
    with dimensions(requestId="r1", stage="resolve"), dimensions(stage="promote", offer=None):
        assert dict(current()) == {"requestId": "r1", "stage": "promote"}
        record = logging.makeLogRecord({"msg": "x", "requestId": "mine"})
        assert DimensionFilter().filter(record)
        assert record.requestId == "mine"  # type: ignore[attr-defined]
        assert record.stage == "promote"  # type: ignore[attr-defined]
    assert dict(current()) == {}
    with pytest.raises(ValueError, match="not a log dimension"), dimensions(runId="x"):
        pass
    assert "pcRequestId" in DIMENSIONS


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",  # no trace
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",  # no span
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",  # unknown version
        GOOD.upper(),
        GOOD + "-extra",
        "<script>",
    ],
)
def test_a_malformed_traceparent_is_ignored(value: str | None) -> None:
    assert not valid_traceparent(value)
    assert context_of(value) is None


def test_a_stage_message_carries_its_run_trace_and_bounds_it() -> None:
    message = StageMessage(run_id="r1", stage=Stage.RESOLVE, traceparent=GOOD)
    assert StageMessage.model_validate_json(message.to_json()).traceparent == GOOD
    assert context_of(GOOD) is not None
    with pytest.raises(ValueError, match="at most 55"):
        StageMessage.model_validate_json(
            '{"v":1,"runId":"r1","stage":"resolve","traceparent":"' + "0" * 56 + '"}'
        )


def _run(*records: StageRecord) -> Run:
    return Run(run_id="r1", status=RunStatus.RUNNING, stage="x", timeline=list(records))


def test_closed_stages_are_measured_once() -> None:
    start, mid, end = (f"2026-12-03T10:00:{s:02d}.000000Z" for s in (0, 30, 45))
    waiting = _run(StageRecord(stage="await_preview", started=start))
    advanced = _run(
        StageRecord(stage="await_preview", started=start, ended=mid, result="ok"),
        StageRecord(stage="promote", started=mid),
    )
    assert closed_records(waiting, advanced) == [("await_preview", "ok", 30.0)]
    finished = _run(
        *advanced.timeline[:1],
        StageRecord(stage="promote", started=mid, ended=end, result="failed"),
    )
    assert closed_records(advanced, finished) == [("promote", "failed", 15.0)]
    assert closed_records(finished, finished) == []  # a repeat write measures nothing


Request = namedtuple("Request", "method url headers stream extensions")
Response = namedtuple("Response", "status_code headers stream extensions")


def test_http_spans_name_partner_center_routes_and_hide_other_urls() -> None:
    import httpx

    tracer = TracerProvider().get_tracer("test")
    pc = tracer.start_span("GET")
    url = httpx.URL("https://api.partner.microsoft.com/v1.0/ingestion/products/p1/submissions/9")
    request = Request(b"GET", url, httpx.Headers({"Client-Request-ID": "r1.abc"}), None, None)
    http_request_hook(pc, request)
    http_response_hook(
        pc,
        request,
        Response(429, httpx.Headers({"Retry-After": "7", "Request-ID": "q"}), None, None),
    )
    pc.end()
    assert pc.name == "PC GET products/{id}/submissions/{id}"  # type: ignore[attr-defined]
    attributes = dict(pc.attributes or {})  # type: ignore[attr-defined]
    assert attributes["pc.throttled"] is True
    assert attributes["pc.retryAfter"] == "7"
    assert attributes["pcRequestId"] == "q"
    hook = tracer.start_span(
        "POST", attributes={"url.full": "https://h.example/x/SECRETPATH?sig=abc"}
    )
    sink = httpx.URL("https://h.example/x/SECRETPATH?sig=abc")
    http_request_hook(hook, Request(b"POST", sink, httpx.Headers({}), None, None))
    hook.end()
    assert "SECRETPATH" not in repr(dict(hook.attributes or {}))  # type: ignore[attr-defined]
    assert hook.name == "POST h.example"  # type: ignore[attr-defined]


def test_exported_log_records_are_scrubbed_and_carry_dimensions() -> None:
    exporter = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = logging.getLogger("tests.observability.scrub")
    logger.propagate = False
    logger.addHandler(telemetry.app_log_handler(provider))
    secret = "live-secret-value-1234"
    redaction.register(secret)
    try:
        with dimensions(requestId="r7", stage="promote"):
            try:
                raise RuntimeError(f"failed with {secret} inside")
            except RuntimeError:
                logger.exception("call failed: %s", secret, extra={"action": "x"})
    finally:
        redaction.forget_all()
    [exported] = exporter.get_finished_logs()
    record = exported.log_record
    text = repr(record.body) + repr(dict(record.attributes or {}))
    assert secret not in text
    assert record.attributes is not None
    assert record.attributes["requestId"] == "r7"
    assert record.attributes["stage"] == "promote"
    assert record.attributes["exception.type"] == "RuntimeError"
    assert "***" in str(record.attributes["exception.message"])


def test_telemetry_is_off_without_a_destination_and_the_distro_is_limited() -> None:
    base = {
        "PC_TENANT_ID": "t",
        "PC_CLIENT_ID": "c",
        "KEY_VAULT_URL": "https://v",
        "AzureWebJobsStorage": "x",
    }
    assert telemetry.configure(Settings.from_env(base)) is None
    azure = Settings.from_env(
        base
        | {
            "APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=k",
            "PC_TRACE_SAMPLING_RATIO": "0.25",
        }
    )
    options = telemetry.azure_monitor_options(azure)
    assert options["disable_logging"] is True  # the app's own scrubbing pipeline instead
    assert options["sampling_ratio"] == 0.25
    assert options["instrumentation_options"]["azure_sdk"] == {"enabled": False}
    assert telemetry.identity_client_id("ClientId=abc;Authorization=AAD") == (True, "abc")
    assert telemetry.identity_client_id("Authorization=AAD") == (True, None)
    assert telemetry.identity_client_id(None) == (False, None)
    with pytest.raises(SettingsError, match="OTEL_EXPORTER_OTLP_ENDPOINT"):
        Settings.from_env(base | {"OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://collector"})
    with pytest.raises(SettingsError, match="PC_TRACE_SAMPLING_RATIO"):
        Settings.from_env(base | {"PC_TRACE_SAMPLING_RATIO": "2"})
