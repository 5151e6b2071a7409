"""azure-identity and azure-keyvault-secrets, unmodified, against the Entra and Key Vault
stand-ins over HTTPS; the Partner Center client with real tokens."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from pcsim.admin import SimulatorClient
from shared import credentials
from shared.credentials import CredentialError, PartnerCenterTokens
from shared.partnercenter.client import PartnerCenterClient
from shared.settings import Settings
from shared.vault import KeyVaultSecret


@pytest.fixture
def closing() -> Iterator[list[Any]]:
    """Objects to close at the end of the test (SDK clients hold sockets)."""
    opened: list[Any] = []
    yield opened
    for obj in opened:
        obj.close()


def test_secret_from_key_vault_is_cached(
    settings: Settings, sim_config: dict[str, Any], closing: list[Any]
) -> None:
    secret = KeyVaultSecret(settings)
    closing.append(secret)
    assert secret.get() == sim_config["clientSecret"]
    assert secret.get() == sim_config["clientSecret"]
    assert secret.reads == 1


def test_tokens_reach_partner_center(
    settings: Settings, sim_config: dict[str, Any], closing: list[Any]
) -> None:
    secret = KeyVaultSecret(settings)
    tokens = PartnerCenterTokens(settings, secret)
    pc = PartnerCenterClient(
        settings.partner_center_api_url, tokens, verify=settings.ca_bundle or True
    )
    closing += [pc, tokens, secret]
    offer = sim_config["offers"][0]
    assert pc.get_product(offer["productId"]).offer_id == offer["offerId"]
    pc.get_product(offer["productId"])
    assert tokens.acquired == 1  # one token serves many calls


def test_rotated_secret_is_read_again(
    settings: Settings, sim_config: dict[str, Any], admin: SimulatorClient, closing: list[Any]
) -> None:
    secret = KeyVaultSecret(settings)
    tokens = PartnerCenterTokens(settings, secret)
    closing += [tokens, secret]
    tokens.token()
    name, old_value = sim_config["secretName"], sim_config["clientSecret"]
    try:
        admin.put_secret(name, "rotated-" + old_value[:12])
        tokens.invalidate()
        assert tokens.token()  # old cached secret refused -> read again -> accepted
        assert secret.reads == 2
    finally:
        admin.put_secret(name, old_value)


@pytest.mark.parametrize("around", [("", "\n"), ("", "\r\n"), (" ", " \t")])
def test_a_secret_set_with_a_line_break_is_read_without_it(
    settings: Settings,
    sim_config: dict[str, Any],
    admin: SimulatorClient,
    closing: list[Any],
    around: tuple[str, str],
) -> None:
    """`az keyvault secret set --file` or a paste often keeps a trailing line break; Entra
    refused the secret so read (AADSTS7000215), and the run could not say why."""
    name, value = sim_config["secretName"], sim_config["clientSecret"]
    try:
        admin.put_secret(name, around[0] + value + around[1], rotate_app=False)
        secret = KeyVaultSecret(settings)
        tokens = PartnerCenterTokens(settings, secret)
        closing += [tokens, secret]
        assert secret.get() == value
        assert tokens.token()
    finally:
        admin.put_secret(name, value, rotate_app=False)


def test_wrong_secret_is_a_clear_error_without_the_secret(
    settings: Settings, closing: list[Any]
) -> None:
    class WrongSecret(KeyVaultSecret):
        def get(self, *, fresh: bool = False) -> str:
            return "definitely-not-the-secret"

    tokens = PartnerCenterTokens(settings, WrongSecret(settings))
    closing.append(tokens)
    with pytest.raises(CredentialError) as caught:
        tokens.token()
    assert "definitely-not-the-secret" not in str(caught.value)
    assert settings.client_id in str(caught.value)


def test_unreachable_vault_names_vault_and_secret(settings: Settings, closing: list[Any]) -> None:
    secret = KeyVaultSecret(settings.model_copy(update={"key_vault_url": "https://127.0.0.1:9"}))
    closing.append(secret)
    with pytest.raises(CredentialError, match="partner-center-client-secret"):
        secret.get()


def test_a_token_for_another_audience_is_refused(
    sim_config: dict[str, Any], admin: SimulatorClient
) -> None:
    token = admin.token(
        sim_config["identityClientId"],
        sim_config["identityClientSecret"],
        "https://vault.azure.net/.default",
    )
    response = admin.ingestion("GET", "products", token)
    assert response.status_code == 401
    assert "invalid_token" in response.headers["WWW-Authenticate"]
    assert admin.ingestion("GET", "products", "not-a-token").status_code == 401
    assert admin.ingestion("GET", "products").status_code == 200


@pytest.mark.parametrize(
    ("change", "fault", "cause"),
    [
        ({"secret_name": "no-such-secret"}, None, "'no-such-secret' does not exist"),
        ({}, {"path": "^/secrets/", "status": 403, "times": None}, "grant it the Key Vault"),
        ({"vault_client_secret": "wrong-vault-secret"}, None, "Entra refused the identity"),
    ],
)
def test_a_credential_failure_names_its_cause_and_holds_off(
    settings: Settings,
    admin: SimulatorClient,
    closing: list[Any],
    change: dict[str, Any],
    fault: dict[str, Any] | None,
    cause: str,
) -> None:
    if fault:
        admin.set_faults(rules=[fault])
    secret = KeyVaultSecret(settings.model_copy(update=change))
    closing.append(secret)
    since = len(admin.requests())
    with pytest.raises(CredentialError, match=cause) as first:
        secret.get()
    assert first.value.retry_after == 5.0

    def outside_calls() -> int:
        return sum(1 for r in admin.requests(since) if not r["path"].startswith("/_admin"))

    vault_calls = outside_calls()
    for _ in range(10):  # every run of the instance hears the same cause, without a call
        with pytest.raises(CredentialError, match=cause):
            secret.get()
    assert outside_calls() == vault_calls
    assert secret.backoff.failures == 1


@pytest.fixture
def short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Entra's and Key Vault's read timeout cut to 1 s (30 s as deployed)."""
    monkeypatch.setitem(credentials.SDK_TIMEOUTS, "read_timeout", 1.0)


@pytest.mark.usefixtures("short_timeouts")
def test_a_key_vault_read_left_unanswered_is_given_up_and_asked_again(
    settings: Settings, sim_config: dict[str, Any], admin: SimulatorClient, closing: list[Any]
) -> None:
    admin.set_faults(rules=[{"path": "^/secrets/", "delay": 4, "times": 1}])
    secret = KeyVaultSecret(settings)
    closing.append(secret)
    started = time.monotonic()
    assert secret.get() == sim_config["clientSecret"]
    assert time.monotonic() - started < 3.5  # not the 4 s the first answer was held


@pytest.mark.usefixtures("short_timeouts")
def test_a_token_request_left_unanswered_is_a_credential_error_that_says_so(
    settings: Settings, admin: SimulatorClient, closing: list[Any]
) -> None:
    secret = KeyVaultSecret(settings)
    tokens = PartnerCenterTokens(settings, secret)
    closing += [tokens, secret]
    secret.get()
    admin.set_faults(rules=[{"path": "/oauth2/", "delay": 30, "times": None}])
    started = time.monotonic()
    with pytest.raises(CredentialError, match="Entra did not answer") as failed:
        tokens.token()
    assert time.monotonic() - started < 15  # each attempt's read given up at 1 s, not 300 s
    assert "refused" not in str(failed.value)
