from __future__ import annotations

import pytest

from shared.settings import Settings, SettingsError
from shared.vault import build_vault_credential

BASE = {
    "AzureWebJobsStorage": "UseDevelopmentStorage=true",
    "PC_TENANT_ID": "t",
    "PC_CLIENT_ID": "c",
    "KEY_VAULT_URL": "https://vault.example",
}


def test_production_defaults_point_at_the_real_services() -> None:
    settings = Settings.from_env(BASE)
    assert settings.partner_center_api_url == "https://api.partner.microsoft.com/v1.0/ingestion"
    assert settings.authority_host == "https://login.microsoftonline.com"
    assert settings.vault_credential == "managed-identity"


def test_every_missing_or_malformed_setting_is_named() -> None:
    env = {"AzureWebJobsStorage": "x", "PC_API_URL": "http://plain", "KEY_VAULT_URL": ""}
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    text = str(caught.value)
    for name in ("PC_TENANT_ID", "PC_CLIENT_ID", "KEY_VAULT_URL", "PC_API_URL"):
        assert name in text


def test_storage_is_required() -> None:
    env = {k: v for k, v in BASE.items() if k != "AzureWebJobsStorage"}
    with pytest.raises(SettingsError, match="AzureWebJobsStorage"):
        Settings.from_env(env)


def test_client_secret_vault_credential_needs_its_id_and_secret() -> None:
    with pytest.raises(SettingsError, match="VAULT_CLIENT_ID"):
        Settings.from_env({**BASE, "VAULT_CREDENTIAL": "client-secret"})


def test_managed_identity_is_never_built_off_azure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEBSITE_INSTANCE_ID", raising=False)
    monkeypatch.delenv("IDENTITY_ENDPOINT", raising=False)
    with pytest.raises(SettingsError, match="only in Azure"):
        build_vault_credential(Settings.from_env(BASE))


def test_the_secret_never_shows_in_repr() -> None:
    settings = Settings.from_env(
        {
            **BASE,
            "VAULT_CREDENTIAL": "client-secret",
            "VAULT_CLIENT_ID": "i",
            "VAULT_CLIENT_SECRET": "s3cr3t-value",
        }
    )
    assert "s3cr3t-value" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PC_STATUS_POLL_SECONDS", "inf"),
        ("PC_RATE_LIMIT_PER_MINUTE", "Infinity"),
        ("PC_STALL_SECONDS", "nan"),
        ("PC_DEADLINE_HOURS", "1e12"),  # no date holds it: every run's deadline overflowed
        ("PC_RETRY_DELAY_SECONDS", "172800"),  # a retry two days on is a setting gone wrong
    ],
)
def test_a_duration_past_any_date_or_infinite_is_refused_by_name(name: str, value: str) -> None:
    env = {
        "AzureWebJobsStorage": "x",
        "PC_TENANT_ID": "t",
        "PC_CLIENT_ID": "c",
        "KEY_VAULT_URL": "https://v.vault.azure.net",
        name: value,
    }
    with pytest.raises(SettingsError, match=f"^invalid app settings: {name}: "):
        Settings.from_env(env)


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("PC_NOTIFY_SINKS", "5", "of sinks: not a list"),  # raised a TypeError, no setting named
        ("PC_NOTIFY_SINKS", "null", "of sinks: not a list"),
        ("PC_NOTIFY_SINKS", "{}", "of sinks: not a list"),  # was read as no sinks at all
        ("PC_EXTRA_HEADERS", '{"x-ms-publisherId": "12\\n3"}', "must be printable ASCII"),
        ("PC_EXTRA_HEADERS", '{"x-ms-publisherId": "caf\\u00e9"}', "must be printable ASCII"),
        ("PC_EXTRA_HEADERS", '{"bad header": "1"}', "is not a header name"),
        ("PC_EXTRA_HEADERS", '{"Authorization": "Bearer x"}', "is set by the client itself"),
        ("PC_TENANT_ID", "contoso tenant", "the Entra tenant's id"),  # a ValueError per token
        ("PC_SECRET_NAME", "partner center/secret", "a Key Vault secret name"),
    ],
)
def test_a_setting_no_call_could_use_is_refused_by_name(name: str, value: str, reason: str) -> None:
    """Each was taken, and then failed every call it went into (a line break or a character
    past ASCII in a header: a transport error or httpx's UnicodeEncodeError), or failed the
    host's start with a TypeError that named no setting."""
    with pytest.raises(SettingsError, match=f"^invalid app settings: {name}: .*{reason}"):
        Settings.from_env({**BASE, name: value})
    assert Settings.from_env({**BASE, "PC_EXTRA_HEADERS": '{"x-ms-publisherId": "123"}'})
