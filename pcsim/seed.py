"""Seed data: tenants, client apps with their secrets, Key Vault secrets, offers and plans.

A seed file is JSON of the same shape as DEFAULT_SEED; ids not given are derived from names,
so the same seed always yields the same product, plan and draft ids. App secrets not given are
random per start (and an app's `vaultSecretName` puts its secret in the Key Vault stand-in).
"""

from __future__ import annotations

import uuid
from typing import Any

NAMESPACE = uuid.UUID("5b0e6c55-8f5e-4b53-9c1a-3b1f2d7c9e10")
PARTNER_CENTER_AUDIENCE = "https://api.partner.microsoft.com"
VAULT_AUDIENCE = "https://vault.azure.net"
GRAPH_AUDIENCE = "https://graph.microsoft.com"


def derived_id(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


DEFAULT_SEED: dict[str, Any] = {
    "tenantId": derived_id("tenant", "contoso"),
    "apps": [
        {
            "name": "publisher",
            "clientId": derived_id("app", "publisher"),
            "audiences": [PARTNER_CENTER_AUDIENCE],
            "vaultSecretName": "partner-center-client-secret",
        },
        {
            "name": "function-identity",
            "clientId": derived_id("app", "function-identity"),
            "audiences": [VAULT_AUDIENCE],
        },
    ],
    "offers": [
        {
            "offerId": "contoso-analytics",
            "name": "Contoso Analytics",
            "resourceType": "AzureApplication",
            "plans": ["standard", "premium"],
        },
        {
            "offerId": "contoso-backup",
            "name": "Contoso Backup",
            "resourceType": "AzureApplication",
            "plans": ["basic"],
        },
        {
            "offerId": "fabrikam-monitor",
            "name": "Fabrikam Monitor",
            "resourceType": "AzureApplication",
            "plans": ["team", "enterprise"],
        },
        {
            "offerId": "contoso-landing-zone",
            "name": "Contoso Landing Zone",
            "resourceType": "AzureApplication",
            "plans": [{"planId": "blueprint", "subType": "solution-template"}],
        },
        {
            "offerId": "contoso-timesheets",
            "name": "Contoso Timesheets",
            "resourceType": "AzureDynamics365BusinessCentral",
        },
        {
            "offerId": "contoso-connector",
            "name": "Contoso Connector",
            "resourceType": "AzureDynamics365BusinessCentral",
            "packageType": "Connect",
        },
        {
            "offerId": "contoso-gateway-vm",
            "name": "Contoso Gateway VM",
            "resourceType": "AzureThirdPartyVirtualMachine",
        },
    ],
}
