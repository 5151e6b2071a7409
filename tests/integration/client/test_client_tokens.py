"""The client's tokens over real sockets: refreshed before they expire, refreshed once on a
401, and never (nor the secret) in a log line or an error's text."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import pytest

from pcsim.admin import SimulatorClient
from shared.credentials import CredentialError, PartnerCenterTokens
from shared.partnercenter.client import PartnerCenterClient, correlation
from shared.settings import Settings
from shared.vault import KeyVaultSecret
from tests.integration.client.parts import calls, make


def test_tokens_are_refreshed_before_they_expire(
    pc: PartnerCenterClient,
    parts: tuple[KeyVaultSecret, PartnerCenterTokens],
    admin: SimulatorClient,
    offer: dict[str, Any],
) -> None:
    admin.admin_put("tokens", {"lifetimeSeconds": 4})
    _, tokens = parts
    since = len(admin.requests())
    pc.get_product(offer["id"])
    time.sleep(2.5)  # past half the lifetime: refreshed before use, never sent expired
    pc.get_product(offer["id"])
    assert tokens.acquired == 2
    assert 401 not in calls(admin, "GET", offer["id"], since)


def test_a_401_refreshes_the_token_once(
    pc: PartnerCenterClient,
    parts: tuple[KeyVaultSecret, PartnerCenterTokens],
    admin: SimulatorClient,
    offer: dict[str, Any],
) -> None:
    _, tokens = parts
    pc.get_product(offer["id"])
    admin.set_faults(rules=[{"path": offer["id"] + "$", "status": 401}])
    pc.get_product(offer["id"])
    assert tokens.acquired == 2


def test_no_secret_or_token_in_logs_or_errors(
    settings: Settings,
    sim_config: dict[str, Any],
    admin: SimulatorClient,
    offer: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    secret = KeyVaultSecret(settings)
    tokens = PartnerCenterTokens(settings, secret)
    client = make(settings, tokens)
    try:
        with correlation("scan-run"):
            client.get_product(offer["id"])
            admin.set_faults(
                rules=[
                    {"path": offer["id"] + "$", "status": 401, "times": 2},
                    {"path": "/variants$", "status": 500, "times": None},
                ]
            )
            for call in (
                lambda: client.get_product(offer["id"]),
                lambda: client.variants(offer["id"]),
            ):
                try:
                    call()
                except Exception as exc:
                    texts.append(repr(exc) + str(exc))
        wrong = PartnerCenterTokens(settings, secret)
        secret._value = "wrong-secret-value-123456"
        try:
            wrong.token()
        except CredentialError as exc:
            texts.append(repr(exc) + str(exc))
        finally:
            wrong.close()
        token = tokens.token()
    finally:
        client.close()
        tokens.close()
        secret.close()
    texts += [r.getMessage() + str(r.__dict__) for r in caplog.records]
    blob = "\n".join(texts)
    assert texts
    for value in (
        sim_config["clientSecret"],
        sim_config["identityClientSecret"],
        token,
        "wrong-secret-value-123456",
    ):
        assert value not in blob
    assert not re.search(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}", blob)
