"""Where the Partner Center client secret and tokens come from.

The secret lives in Key Vault and is read through SecretClient, cached for a TTL so a rotation is
picked up without a restart. Tokens come from azure-identity's ClientSecretCredential for
`https://api.partner.microsoft.com/.default` and are refreshed five minutes before expiry, so a
run that waited an hour never sends an expired token. When Entra refuses the secret
(`invalid_client`, i.e. rotated) the secret is read again once.

The vault's own credential is chosen here and nowhere else: the function app's managed identity
when running in Azure, an explicit client-secret credential otherwise. ManagedIdentityCredential
is never built off Azure, since it probes the instance metadata address.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from azure.core.credentials import AccessToken, TokenCredential
from azure.core.exceptions import AzureError, ClientAuthenticationError

from shared import redaction
from shared.settings import PARTNER_CENTER_SCOPE, Settings, SettingsError

log = logging.getLogger(__name__)

REFRESH_MARGIN_SECONDS = 300.0


class CredentialError(Exception):
    """A secret or token could not be obtained; names the real cause (vault refused, secret
    missing, Entra refusing the vault identity or the Partner Center app), never a value.
    `retry_after`: how long this instance holds off before trying again."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Backoff:
    """One growing hold-off per instance, shared by every run: while credentials fail, the
    instance calls Entra and Key Vault at most once per step (5 s, 10 s, ... 15 min), however
    many runs want a token, and every run hears the same cause."""

    def __init__(self, first: float = 5.0, most: float = 900.0, clock: Any = time.monotonic):
        self.first, self.most, self._clock = first, most, clock
        self.failures = 0
        self._until = 0.0
        self._cause = ""

    def check(self) -> None:
        """Raise the last cause while holding off."""
        left = self._until - self._clock()
        if self.failures and left > 0:
            raise CredentialError(f"{self._cause} (next attempt in {left:.0f} s)", left)

    def failed(self, cause: str) -> CredentialError:
        self.failures += 1
        delay = min(self.most, self.first * 2 ** (self.failures - 1))
        self._until, self._cause = self._clock() + delay, cause
        log.error(
            "credentials failing (%d in a row): %s",
            self.failures,
            cause,
            extra={"action": "credentials_failing", "failures": self.failures},
        )
        return CredentialError(cause, delay)

    def succeeded(self) -> None:
        if self.failures:
            log.warning(
                "credentials work again after %d failures",
                self.failures,
                extra={"action": "credentials_recovered"},
            )
        self.failures = 0


def running_in_azure(env: dict[str, str] | None = None) -> bool:
    source = os.environ if env is None else env
    return bool(source.get("WEBSITE_INSTANCE_ID") or source.get("IDENTITY_ENDPOINT"))


def _tls_kwargs(settings: Settings) -> dict[str, Any]:
    return {"connection_verify": settings.ca_bundle} if settings.ca_bundle else {}


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
        **_tls_kwargs(settings),
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
                **_tls_kwargs(self._settings),
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
        if not secret.value:
            raise CredentialError(f"secret {name!r} in {vault} is empty")
        return str(secret.value)


class SecretSource(Protocol):
    def get(self, *, fresh: bool = False) -> str: ...


class PartnerCenterTokens:
    """Bearer tokens for Partner Center, from the client secret in Key Vault."""

    def __init__(
        self,
        settings: Settings,
        secret: SecretSource,
        clock: Any = time.time,
        credential_for: Callable[[str], Any] | None = None,
        scope: str = PARTNER_CENTER_SCOPE,
    ) -> None:
        """`credential_for(secret)` builds the token credential (ClientSecretCredential
        unless given, e.g. by a benchmark that counts tokens); `scope` is the audience (one
        provider, and one cache, per audience)."""
        self.scope = scope
        self._settings = settings
        self._credential_for = credential_for or self._build
        self._secret = secret
        self._clock = clock
        self._credential: Any = None
        self._credential_secret: str | None = None
        self._token: AccessToken | None = None
        self._acquired_at = 0.0
        self._lock = threading.Lock()
        self.acquired = 0
        self.backoff = Backoff(most=settings.credential_backoff_max_seconds)

    def _build(self, secret: str) -> Any:
        from azure.identity import ClientSecretCredential

        return ClientSecretCredential(
            self._settings.tenant_id,
            self._settings.client_id,
            secret,
            authority=self._settings.authority_host,
            disable_instance_discovery=True,
            **_tls_kwargs(self._settings),
        )

    def token(self) -> str:
        with self._lock:
            if (
                self._token is None
                or self._token.expires_on - self._clock() < REFRESH_MARGIN_SECONDS
            ):
                self.backoff.check()
                try:
                    self._token = self._acquire()
                except CredentialError as exc:
                    raise self.backoff.failed(str(exc)) from None
                self.backoff.succeeded()
            return self._token.token

    def invalidate(self) -> None:
        with self._lock:
            self._token = None
            self._drop_credential()  # MSAL caches tokens per credential; start clean

    def close(self) -> None:
        with self._lock:
            self._drop_credential()

    def _drop_credential(self) -> None:
        if self._credential is not None:
            self._credential.close()
            self._credential = None

    def _acquire(self) -> AccessToken:
        for fresh_secret in (False, True):
            secret = self._secret.get(fresh=fresh_secret)
            if self._credential is None or secret != self._credential_secret:
                self._drop_credential()
                self._credential = self._credential_for(secret)
                self._credential_secret = secret
            try:
                token: AccessToken = self._credential.get_token(self.scope)
            except ClientAuthenticationError as exc:
                rejected = "invalid_client" in str(exc) or "AADSTS7000215" in str(exc)
                if rejected and not fresh_secret:
                    log.warning(
                        "client secret refused; reading it again from Key Vault",
                        extra={"action": "secret_refresh"},
                    )
                    self._drop_credential()
                    continue
                code = _aadsts(str(exc))
                raise CredentialError(
                    f"Entra refused the Partner Center app's credentials (tenant "
                    f"{self._settings.tenant_id}, client {self._settings.client_id}"
                    f"{', ' + code if code else ''})"
                ) from None
            self.acquired += 1
            redaction.register(token.token)
            return token
        raise CredentialError("unreachable")  # pragma: no cover


def _aadsts(text: str) -> str:
    """Entra's error code (AADSTS7000215: invalid secret, ...), which says what is wrong."""
    match = re.search(r"AADSTS\d+|invalid_client|unauthorized_client|invalid_request", text)
    return match.group(0) if match else ""
