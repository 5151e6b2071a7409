"""One trace per run: a root span when the run is opened, its W3C context kept on the run
record and carried by every stage message, and a span per stage continuing it; Partner Center
calls are the httpx spans under a stage span (named by route, see `http_hooks`).

A run lives for days and is worked on by many instances, so its trace cannot hang on one open
span: the root span ends at once and every stage span is its child through the stored context.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opentelemetry import context as otel_context, trace
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared.partnercenter.paths import route_template

TRACER = trace.get_tracer("pc-publisher")
_PROPAGATOR = TraceContextTextMapPropagator()
# Only version 00 with a real trace and span id: a stage message can be written by anyone.
_TRACEPARENT = re.compile(r"^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$")
PC_CALL_HEADER = "Client-Request-ID"  # set on every Partner Center call, and only there


def valid_traceparent(value: str | None) -> bool:
    return bool(value) and _TRACEPARENT.match(value or "") is not None


def context_of(traceparent: str | None) -> otel_context.Context | None:
    """The context a stored or received traceparent names (None when absent or malformed)."""
    if not valid_traceparent(traceparent):
        return None
    return _PROPAGATOR.extract({"traceparent": traceparent or ""})


def traceparent_of(span: Span) -> str | None:
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
    return carrier.get("traceparent")


@dataclass
class RunTrace:
    """A new run's root span: exported only when the run is really opened (`keep`), so a
    duplicate request leaves no trace that no stage will ever join."""

    span: Span
    traceparent: str | None
    kept: bool = False

    def keep(self) -> None:
        self.kept = True


@contextmanager
def new_run_trace(run_id: str, **attributes: str | None) -> Iterator[RunTrace]:
    """Start the trace of run `run_id` (a new trace, linked to whatever is current)."""
    current = trace.get_current_span().get_span_context()
    links = [Link(current)] if current.is_valid else []
    span = TRACER.start_span(
        "publish run",
        context=otel_context.Context(),  # a root: the run's trace is its own
        kind=SpanKind.PRODUCER,
        attributes=_attrs(requestId=run_id, **attributes),
        links=links,
    )
    handle = RunTrace(span, traceparent_of(span))
    try:
        yield handle
    finally:
        if handle.kept:
            span.end()


@contextmanager
def continued(traceparent: str | None) -> Iterator[None]:
    """Run the block in the trace `traceparent` names (a received stage message's)."""
    ctx = context_of(traceparent)
    if ctx is None:
        yield
        return
    token = otel_context.attach(ctx)
    try:
        yield
    finally:
        otel_context.detach(token)


@contextmanager
def stage_span(
    traceparent: str | None, stage: str, **attributes: str | int | None
) -> Iterator[Span]:
    """A span for one stage invocation of a run, a child of the run's root span."""
    with TRACER.start_as_current_span(
        f"stage {stage}",
        context=context_of(traceparent),  # None: the current context (the delivery's)
        kind=SpanKind.CONSUMER,
        attributes=_attrs(stage=stage, **attributes),
    ) as span:
        yield span


def record_outcome(
    span: Span, outcome: str, reason: str | None = None, failed: bool = False
) -> None:
    span.set_attribute("outcome", outcome)
    if reason:
        span.set_attribute("reason", reason[:500])
    if failed:
        span.set_status(Status(StatusCode.ERROR, (reason or outcome)[:500]))


def _attrs(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v not in (None, "")}


# -- httpx spans ---------------------------------------------------------------------------


def _url_parts(url: Any) -> tuple[str, str, str]:
    """(scheme, host, path) of the URL an httpx transport sees (a URL or raw byte tuple)."""
    if isinstance(url, tuple):
        scheme, host, _port, target = url
        return scheme.decode(), host.decode(), target.decode()
    return str(url.scheme), str(url.host), str(url.raw_path.decode())


def http_request_hook(span: Span, request: Any) -> None:
    """Name a Partner Center call by its route; keep any other URL (a notification sink's
    carries a token) down to its origin."""
    if not span.is_recording():
        return
    method = request.method.decode() if isinstance(request.method, bytes) else str(request.method)
    scheme, host, path = _url_parts(request.url)
    headers: Mapping[str, str] = request.headers or {}
    crid = headers.get(PC_CALL_HEADER)
    if crid is None:
        origin = f"{scheme}://{host}/"
        span.update_name(f"{method} {host}")
        kept = {"url.full": origin, "http.url": origin, "http.target": "/", "url.path": "/"}
        for key, value in kept.items():
            span.set_attribute(key, value)
        span.set_attribute("url.query", "")
        return
    template = route_template(path)
    span.update_name(f"PC {method} {template}")
    span.set_attribute("url.template", template)
    span.set_attribute("pc.call", True)
    span.set_attribute("pc.clientRequestId", crid)


async def async_http_request_hook(span: Span, request: Any) -> None:
    """The same for an httpx.AsyncClient's calls (a notification's post)."""
    http_request_hook(span, request)


async def async_http_response_hook(span: Span, request: Any, response: Any) -> None:
    http_response_hook(span, request, response)


def http_response_hook(span: Span, request: Any, response: Any) -> None:
    if not span.is_recording():
        return
    headers: Mapping[str, str] = response.headers or {}
    if (request.headers or {}).get(PC_CALL_HEADER) is None:
        return
    status = int(response.status_code)
    span.set_attribute("pc.throttled", status == 429)
    if retry_after := headers.get("Retry-After"):
        span.set_attribute("pc.retryAfter", str(retry_after)[:40])
    if request_id := headers.get("Request-ID"):
        span.set_attribute("pcRequestId", str(request_id)[:100])
