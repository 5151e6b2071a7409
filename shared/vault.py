"""The Partner Center client secret in Key Vault, and the credential the vault sees.

The secret is read through SecretClient and cached for a TTL, so a rotation is picked up
without a restart. The vault's own credential is chosen here and nowhere else: the function
app's managed identity when running in Azure, an explicit client-secret credential otherwise.
ManagedIdentityCredential is never built off Azure, since it probes the instance metadata
address.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, ClientAuthenticationError

from shared import redaction
from shared.credentials import Backoff, CredentialError, sdk_kwargs
from shared.settings import Settings, SettingsError


def running_in_azure(env: dict[str, str] | None = None) -> bool:
    source = os.environ if env is None else env
    return bool(source.get("WEBSITE_INSTANCE_ID") or source.get("IDENTITY_ENDPOINT"))


def build_vault_credential(settings: Settings) -> TokenCredential:
    """The credential Key Vault sees: managed identity in Azure, client secret elsewhere."""
    from azure.identity import ClientSecretCredential, ManagedIdentityCredential

    if settings.vault_credential == "managed-identity":
        if not running_in_azure():
            raise SettingsError(
                "VAULT_CREDENTIAL=managed-identity works only in Azure; locally set "
                "VAULT_CREDENTIAL=client-secret with VAULT_CLIENT_ID and VAULT_CLIENT_SECRET"
            )
        return ManagedIdentityCredential(client_id=settings.managed_identity_client_id)
    assert settings.vault_client_id
    assert settings.vault_client_secret
    return ClientSecretCredential(
        settings.tenant_id,
        settings.vault_client_id,
        settings.vault_client_secret,
        authority=settings.authority_host,
        disable_instance_discovery=True,
        **sdk_kwargs(settings),
    )


class KeyVaultSecret:
    """One secret from Key Vault, cached for `ttl` seconds."""

    def __init__(
        self,
        settings: Settings,
        credential: TokenCredential | None = None,
        clock: Any = time.monotonic,
        name: str | None = None,
    ) -> None:
        self._settings = settings
        self.name = name or settings.secret_name  # another secret than the app's own
        self._credential = credential
        self._clock = clock
        self._value: str | None = None
        self._read_at = 0.0
        self._client: Any = None
        self._lock = threading.Lock()
        self.reads = 0
        self.backoff = Backoff(most=settings.credential_backoff_max_seconds, clock=clock)

    def credential(self) -> TokenCredential:
        """The vault credential this reader uses (other readers of the same vault share it)."""
        if self._credential is None:
            self._credential = build_vault_credential(self._settings)
        return self._credential

    def _secret_client(self) -> Any:
        if self._client is None:
            from azure.keyvault.secrets import SecretClient

            credential = self.credential()
            self._client = SecretClient(
                self._settings.key_vault_url,
                credential,
                verify_challenge_resource=self._settings.vault_verify_challenge_resource,
                # A short backoff (about 4 s in all), then a clear error: the stage retries
                # later instead of holding its message through a long outage.
                retry_total=3,
                retry_backoff_factor=0.5,
                retry_backoff_max=2,
                **sdk_kwargs(self._settings),
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def get(self, *, fresh: bool = False) -> str:
        with self._lock:
            expired = self._clock() - self._read_at >= self._settings.secret_cache_seconds
            if self._value is None or fresh or expired:
                self.backoff.check()
                try:
                    value = self._read()
                except CredentialError as exc:
                    raise self.backoff.failed(str(exc)) from None
                self.backoff.succeeded()
                self._value = value
                redaction.register(value)
                self._read_at = self._clock()
                self.reads += 1
            return self._value

    def _read(self) -> str:
        """The secret's value, or a CredentialError that names the real cause."""
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        name, vault = self.name, self._settings.key_vault_url
        try:
            secret = self._secret_client().get_secret(name)
        except ClientAuthenticationError:
            raise CredentialError(
                f"Entra refused the identity that reads {vault} "
                f"(VAULT_CREDENTIAL={self._settings.vault_credential})"
            ) from None
        except ResourceNotFoundError:
            raise CredentialError(f"secret {name!r} does not exist in {vault}") from None
        except HttpResponseError as exc:
            if exc.status_code == 403:
                raise CredentialError(
                    f"{vault} refused to give secret {name!r} to the app's identity (403): "
                    "grant it the Key Vault Secrets User role"
                ) from None
            raise CredentialError(
                f"cannot read secret {name!r} from {vault}: {exc.status_code} {exc.reason}"
            ) from None
        except AzureError as exc:
            raise CredentialError(
                f"cannot reach {vault} for secret {name!r}: {type(exc).__name__}"
            ) from None
        # Entra's client secrets hold no whitespace; one set from a file or pasted often ends
        # with a line break, which Entra refuses as "Invalid client secret" (AADSTS7000215).
        value = str(secret.value or "").strip()
        if not value:
            raise CredentialError(f"secret {name!r} in {vault} is empty")
        return value
