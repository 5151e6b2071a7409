"""The shared call budget's ceiling reaches the client from the app settings."""

from __future__ import annotations

from shared.settings import Settings
from shared.wiring import build_pipeline


def test_settings_reach_the_client() -> None:
    settings = Settings.from_env(
        {
            "AzureWebJobsStorage": "UseDevelopmentStorage=true",
            "PC_TENANT_ID": "t",
            "PC_CLIENT_ID": "c",
            "KEY_VAULT_URL": "https://vault.example",
            "PC_EXTRA_HEADERS": '{"x-ms-publisherId": "123"}',
            "PC_RATE_LIMIT_PER_MINUTE": "600",
        }
    )
    pc = build_pipeline(settings).stage_deps.pc
    assert pc._headers == {"x-ms-publisherId": "123"}  # type: ignore[attr-defined]
    assert pc._limiter.pace.ceiling == 600  # type: ignore[attr-defined]
