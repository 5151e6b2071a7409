"""Typed settings read once from app settings (environment variables).

The defaults are the production endpoints; the local stack changes endpoints by configuration
only, never by a different code path. Validation happens on first use, not at import time, so a
missing setting shows up as a clear error in the first invocation's log instead of a function
app that silently indexes zero functions.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from functools import cache
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.notifications import Sink, parse_sinks

PARTNER_CENTER_RESOURCE = "https://api.partner.microsoft.com"
PARTNER_CENTER_SCOPE = f"{PARTNER_CENTER_RESOURCE}/.default"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"  # the Product Ingestion API's audience
# Headers the Partner Center client sets on every call: PC_EXTRA_HEADERS may not replace them.
_OWN_HEADERS = frozenset(
    {"authorization", "client-request-id", "if-match", "content-type", "content-length", "host"}
)

# Environment variable names, defined once (infra declares the same names).
ENV = {
    "storage_connection": "AzureWebJobsStorage",
    "storage_queue_uri": "AzureWebJobsStorage__queueServiceUri",
    "storage_table_uri": "AzureWebJobsStorage__tableServiceUri",
    "storage_blob_uri": "AzureWebJobsStorage__blobServiceUri",
    "partner_center_api_url": "PC_API_URL",
    "product_ingestion_url": "PC_PRODUCT_INGESTION_URL",
    "authority_host": "PC_AUTHORITY_HOST",
    "tenant_id": "PC_TENANT_ID",
    "client_id": "PC_CLIENT_ID",
    "key_vault_url": "KEY_VAULT_URL",
    "secret_name": "PC_SECRET_NAME",
    "secret_cache_seconds": "PC_SECRET_CACHE_SECONDS",
    "vault_credential": "VAULT_CREDENTIAL",
    "vault_client_id": "VAULT_CLIENT_ID",
    "vault_client_secret": "VAULT_CLIENT_SECRET",
    "vault_verify_challenge_resource": "VAULT_VERIFY_CHALLENGE_RESOURCE",
    "managed_identity_client_id": "AZURE_CLIENT_ID",
    "ca_bundle": "TLS_CA_BUNDLE",
    "status_poll_seconds": "PC_STATUS_POLL_SECONDS",
    "retry_delay_seconds": "PC_RETRY_DELAY_SECONDS",
    "extra_headers": "PC_EXTRA_HEADERS",
    "foreign_submission": "PC_FOREIGN_SUBMISSION",
    "stall_seconds": "PC_STALL_SECONDS",
    "trouble_seconds": "PC_TROUBLE_SECONDS",
    "archive_after_days": "PC_ARCHIVE_AFTER_DAYS",
    "deadline_hours": "PC_DEADLINE_HOURS",
    "package_staging_container": "PACKAGE_STAGING_CONTAINER",
    "package_url_hosts": "PACKAGE_URL_HOSTS",
    "upload_origins": "PC_UPLOAD_ORIGINS",
    "package_max_bytes": "PACKAGE_MAX_BYTES",
    "rate_limit_per_minute": "PC_RATE_LIMIT_PER_MINUTE",
    "claim_seconds": "PC_CLAIM_SECONDS",
    "credential_backoff_max_seconds": "PC_CREDENTIAL_BACKOFF_MAX_SECONDS",
    "incident_max_probe_seconds": "PC_INCIDENT_MAX_PROBE_SECONDS",
    "approval_timeout_hours": "PC_APPROVAL_TIMEOUT_HOURS",
    "approval_remind_seconds": "PC_APPROVAL_REMIND_SECONDS",
    "max_poll_seconds": "PC_STATUS_POLL_MAX_SECONDS",
    "learn_waits": "PC_STATUS_POLL_LEARN",
    "notify_sinks": "PC_NOTIFY_SINKS",
    "insights_connection_string": "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "insights_authentication": "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    "otlp_endpoint": "OTEL_EXPORTER_OTLP_ENDPOINT",
    "trace_sampling_ratio": "PC_TRACE_SAMPLING_RATIO",
}


DAY, YEAR = 86400.0, 366 * 86400.0  # the bounds of durations an operator may set, in seconds


class SettingsError(Exception):
    """The app settings are missing or malformed; the message names each setting."""


class Settings(BaseModel):
    """Everything the function app reads from its environment."""

    # No infinities, and no duration past what a date can hold: a run's times are reckoned
    # from these, and a value no timedelta holds failed every intake.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    storage_connection: str | None = None
    storage_queue_uri: str | None = None
    storage_table_uri: str | None = None
    storage_blob_uri: str | None = None
    partner_center_api_url: str = "https://api.partner.microsoft.com/v1.0/ingestion"
    product_ingestion_url: str = "https://graph.microsoft.com/rp/product-ingestion"
    authority_host: str = "https://login.microsoftonline.com"
    tenant_id: str = Field(min_length=1)
    client_id: str = Field(min_length=1)
    key_vault_url: str = Field(min_length=1)
    secret_name: str = "partner-center-client-secret"
    secret_cache_seconds: float = Field(default=300.0, ge=0, le=DAY)
    vault_credential: Literal["managed-identity", "client-secret"] = "managed-identity"
    vault_client_id: str | None = None
    vault_client_secret: str | None = Field(default=None, repr=False)
    vault_verify_challenge_resource: bool = True
    managed_identity_client_id: str | None = None
    ca_bundle: str | None = None
    status_poll_seconds: float = Field(default=60.0, gt=0, le=DAY)
    retry_delay_seconds: float = Field(default=30.0, ge=0, le=DAY)
    extra_headers: dict[str, str] = Field(default_factory=dict)
    foreign_submission: Literal["wait", "fail", "delete"] = "wait"
    stall_seconds: float = Field(default=900.0, gt=0, le=DAY)
    trouble_seconds: float = Field(default=3600.0, gt=0, le=DAY)
    deadline_hours: float = Field(default=14 * 24.0, gt=0, le=YEAR / 3600)
    package_staging_container: str = "package-staging"
    package_url_hosts: tuple[str, ...] = ("blob.core.windows.net",)
    # Where Partner Center's upload URIs (fileSasUri) may point: Azure Blob storage over TLS.
    # A file is never sent elsewhere (scheme://host[:port]; `*.` matches any host under it).
    upload_origins: tuple[str, ...] = ("https://*.blob.core.windows.net",)
    package_max_bytes: int = Field(default=1024**3, gt=0)  # Partner Center's package limit
    # The ceiling of the tenant's shared, adaptive call budget (shared.partnercenter.budget);
    # on by default, since Partner Center does not publish its limit.
    rate_limit_per_minute: float | None = Field(default=600.0, gt=0)
    claim_seconds: float = Field(default=300.0, gt=0, le=DAY)
    # While credentials fail, an instance tries again after 5 s, 10 s, ... up to this.
    credential_backoff_max_seconds: float = Field(default=900.0, gt=0, le=DAY)
    # While an incident holds every run, Partner Center is probed after 10 s, 20 s, ... up to this.
    incident_max_probe_seconds: float = Field(default=600.0, gt=0, le=DAY)
    # A go-live waiting for approval fails after this long; a reminder event goes out at
    # this interval while it waits.
    approval_timeout_hours: float = Field(default=7 * 24.0, gt=0, le=YEAR / 3600)
    approval_remind_seconds: float = Field(default=24 * 3600.0, gt=0, le=YEAR)
    # The longest interval between status polls of one waiting run (see StageDeps.next_poll).
    max_poll_seconds: float = Field(default=900.0, gt=0, le=DAY)
    # Polls skip the part of a wait in which waits of its kind lately never ended
    # (shared.wait_history); off: the plain schedule only.
    learn_waits: bool = True
    # Runs that ended longer ago than this move to the archive table (shared.archive).
    archive_after_days: float = Field(default=30.0, gt=0, le=10 * YEAR / 86400)
    # Where events are forwarded (shared.notifications): a JSON list of sinks.
    notify_sinks: tuple[Sink, ...] = ()
    # Telemetry (shared.observability.setup): Application Insights in Azure, with the app's
    # identity ("ClientId=...;Authorization=AAD"); or any OTLP/HTTP collector. Neither: none.
    insights_connection_string: str | None = Field(default=None, repr=False)
    insights_authentication: str | None = None
    otlp_endpoint: str | None = None
    # The share of runs whose traces are kept; logs and metrics (failures) are never sampled.
    trace_sampling_ratio: float = Field(default=1.0, ge=0, le=1)

    @field_validator("package_url_hosts", "upload_origins", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(h.strip().lower() for h in value.split(",") if h.strip())
        return value

    @field_validator("upload_origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            parts = urlsplit(origin)
            try:
                parts.port  # noqa: B018 - a port out of range raises here
            except ValueError:
                raise ValueError(f"{origin!r} has no valid port") from None
            if parts.scheme not in ("https", "http") or not parts.hostname or parts.path:
                raise ValueError(f"{origin!r} is not scheme://host[:port]")
        return value

    @field_validator("notify_sinks", mode="before")
    @classmethod
    def _sinks(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return tuple(parse_sinks(value))
            except ValueError as exc:  # pydantic's ValidationError is a ValueError too
                raise ValueError(f"must be a JSON list of sinks: {exc}") from None
        return value

    @field_validator("extra_headers", mode="before")
    @classmethod
    def _json_object(cls, value: object) -> object:
        """PC_EXTRA_HEADERS is a JSON object: the service has required new headers before."""
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                example = '{"x-ms-publisherId": "123"}'
                raise ValueError(f"must be a JSON object, e.g. {example}") from None
        return value

    @field_validator("tenant_id")
    @classmethod
    def _tenant(cls, value: str) -> str:
        """As azure-identity takes it: another failed every token request with a ValueError,
        a bug's error in every stage, where the setting should be named at start."""
        if not re.fullmatch(r"[0-9A-Za-z.-]+", value):
            raise ValueError("must be the Entra tenant's id (a GUID) or its domain")
        return value

    @field_validator("secret_name")
    @classmethod
    def _secret_name(cls, value: str) -> str:
        """Key Vault's rule for names: another is refused by the vault at every read."""
        if not re.fullmatch(r"[0-9A-Za-z-]{1,127}", value):
            raise ValueError("must be a Key Vault secret name: 1-127 letters, digits and '-'")
        return value

    @field_validator("extra_headers")
    @classmethod
    def _sendable(cls, value: dict[str, str]) -> dict[str, str]:
        """Headers httpx can send and the client does not set itself: a value with a line
        break or past ASCII failed every call (a transport error, or UnicodeEncodeError)."""
        for name, text in value.items():
            if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
                raise ValueError(f"{name[:40]!r} is not a header name")
            if name.lower() in _OWN_HEADERS:
                raise ValueError(f"{name} is set by the client itself")
            if not re.fullmatch(r"[\x20-\x7e]*", text):
                raise ValueError(f"the value of {name} must be printable ASCII")
        return value

    @field_validator("otlp_endpoint")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s):// URL")
        return value

    @field_validator(
        "partner_center_api_url", "product_ingestion_url", "authority_host", "key_vault_url"
    )
    @classmethod
    def _https(cls, value: str) -> str:
        if not value.startswith("https://"):
            raise ValueError("must be an https:// URL")
        return value.rstrip("/")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate the settings; raise SettingsError naming every bad one."""
        source = os.environ if env is None else env
        values = {field: source[name] for field, name in ENV.items() if source.get(name)}
        try:
            settings = cls.model_validate(values)
        except ValidationError as exc:
            problems = []
            for err in exc.errors():
                field = str(err["loc"][0]) if err["loc"] else "?"
                problems.append(f"{ENV.get(field, field)}: {err['msg']}")
            raise SettingsError("invalid app settings: " + "; ".join(problems)) from None
        if not (settings.storage_connection or settings.storage_queue_uri):
            raise SettingsError(
                "invalid app settings: set AzureWebJobsStorage (a connection string) or "
                "AzureWebJobsStorage__queueServiceUri and __tableServiceUri (identity-based)"
            )
        if settings.vault_credential == "client-secret" and not (
            settings.vault_client_id and settings.vault_client_secret
        ):
            raise SettingsError(
                "invalid app settings: VAULT_CREDENTIAL=client-secret needs VAULT_CLIENT_ID "
                "and VAULT_CLIENT_SECRET"
            )
        return settings


@cache
def get_settings() -> Settings:
    """The process's settings, validated once on first use."""
    return Settings.from_env()
