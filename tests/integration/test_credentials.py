"""azure-identity and azure-keyvault-secrets, unmodified, against the Entra and Key Vault
stand-ins over HTTPS; the Partner Center client with real tokens."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pcpub.simulator.admin import SimulatorClient
from shared.credentials import CredentialError, KeyVaultSecret, PartnerCenterTokens
from shared.partnercenter.client import PartnerCenterClient
from shared.settings import Settings


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
