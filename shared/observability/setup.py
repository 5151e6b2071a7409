"""Installs telemetry once per process: Application Insights through the Azure Monitor
distro when a connection string is set (only in Azure), else an OTLP/HTTP collector when
OTEL_EXPORTER_OTLP_ENDPOINT is set (the offline test uses one on loopback), else nothing.

Both paths export the same things: the app's own loggers (`shared.*`, never the SDKs'
chatter) with flat dimensions and secrets scrubbed, the run traces, the app's metrics, and a
span for every httpx call. The SDKs are imported here, on first use, never at import time.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from shared.observability.dimensions import DimensionFilter
from shared.observability.tracing import (
    async_http_request_hook,
    async_http_response_hook,
    http_request_hook,
    http_response_hook,
)
from shared.redaction import scrub

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from opentelemetry.sdk._logs.export import LogRecordExporter

    from shared.settings import Settings

APP_LOGGER = "shared"  # every module of the domain package logs under it
SERVICE_NAME = "pc-publisher"
# The distro instruments these when installed; none is the app's own traffic worth a span
# (storage and Key Vault calls would outnumber Partner Center's many times over).
_NOT_INSTRUMENTED = (
    "azure_sdk",
    "django",
    "fastapi",
    "flask",
    "psycopg2",
    "requests",
    "urllib",
    "urllib3",
)
_lock = threading.Lock()
_configured: str | None = None


def configure(settings: Settings) -> str | None:
    """Install telemetry for this process (once); returns the exporter used, or None."""
    global _configured
    with _lock:
        if _configured is not None:
            return _configured
        if settings.insights_connection_string:
            _configured = "azure-monitor"
            log_exporter = _azure_monitor(settings)
        elif settings.otlp_endpoint:
            _configured = "otlp"
            log_exporter = _otlp(settings)
        else:
            return None
        _app_logs(log_exporter)
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        HTTPXClientInstrumentor().instrument(
            request_hook=http_request_hook,
            response_hook=http_response_hook,
            async_request_hook=async_http_request_hook,
            async_response_hook=async_http_response_hook,
        )
        return _configured


def _resource() -> Any:
    from opentelemetry.sdk.resources import Resource

    return Resource.create({"service.name": SERVICE_NAME})


def azure_monitor_options(settings: Settings) -> dict[str, Any]:
    """What the distro is given (without the credential): pure, so a test can read it."""
    return {
        "connection_string": settings.insights_connection_string,
        "sampling_ratio": settings.trace_sampling_ratio,
        "disable_logging": True,  # the app's own log pipeline, below, scrubs and filters
        "enable_live_metrics": False,
        "instrumentation_options": {name: {"enabled": False} for name in _NOT_INSTRUMENTED},
    }


def identity_client_id(authentication: str | None) -> tuple[bool, str | None]:
    """(use Entra ID, client id) from APPLICATIONINSIGHTS_AUTHENTICATION_STRING."""
    parts = dict(item.split("=", 1) for item in (authentication or "").split(";") if "=" in item)
    aad = parts.get("Authorization", "").upper() == "AAD"
    return aad, parts.get("ClientId") or None


def _credential(settings: Settings) -> TokenCredential | None:
    aad, client_id = identity_client_id(settings.insights_authentication)
    if not aad:
        return None
    from azure.identity import ManagedIdentityCredential

    return ManagedIdentityCredential(client_id=client_id)


def _azure_monitor(settings: Settings) -> LogRecordExporter:
    from azure.monitor.opentelemetry import configure_azure_monitor
    from azure.monitor.opentelemetry.exporter import AzureMonitorLogExporter

    credential = _credential(settings)
    options = azure_monitor_options(settings)
    configure_azure_monitor(**options, credential=credential, resource=_resource())
    return AzureMonitorLogExporter(
        connection_string=settings.insights_connection_string, credential=credential
    )


def _otlp(settings: Settings) -> LogRecordExporter:
    """The exporters read the standard OTEL_EXPORTER_OTLP_* and OTEL_B*_ variables."""
    from opentelemetry import metrics, trace
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    resource = _resource()
    tracer = TracerProvider(
        resource=resource, sampler=ParentBased(TraceIdRatioBased(settings.trace_sampling_ratio))
    )
    tracer.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(tracer)
    reader = PeriodicExportingMetricReader(OTLPMetricExporter())
    metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=[reader]))
    return OTLPLogExporter()


def _app_logs(exporter: LogRecordExporter) -> None:
    from opentelemetry._logs import set_logger_provider
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

    provider = LoggerProvider(resource=_resource())
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    set_logger_provider(provider)
    handler = app_log_handler(provider)
    logger = logging.getLogger(APP_LOGGER)
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)


def app_log_handler(provider: Any) -> logging.Handler:
    """The handler that exports the app's records: dimensions added, secrets scrubbed."""
    from opentelemetry.instrumentation.logging.handler import LoggingHandler

    class ScrubbingHandler(LoggingHandler):
        """Exports a scrubbed copy: the record factory scrubs messages, but the exporter
        formats exception text itself, and extras may carry text from outside."""

        def emit(self, record: logging.LogRecord) -> None:
            copy = logging.makeLogRecord(record.__dict__)
            copy.msg, copy.args = scrub(record.getMessage()), None
            if copy.exc_info:
                kind, value, _tb = copy.exc_info
                copy.__dict__["exception.type"] = kind.__name__ if kind else "Exception"
                copy.__dict__["exception.message"] = scrub(str(value))[:2000]
                copy.__dict__["exception.stacktrace"] = scrub(
                    copy.exc_text or logging.Formatter().formatException(copy.exc_info)
                )
                copy.exc_info = None
                copy.exc_text = None
            for key, value in list(copy.__dict__.items()):
                if isinstance(value, str) and key not in ("msg", "name", "levelname"):
                    copy.__dict__[key] = scrub(value)
            super().emit(copy)

    handler = ScrubbingHandler(logger_provider=provider)
    handler.addFilter(DimensionFilter())
    return handler
