"""Where the Partner Center tokens come from, and the errors and backoff of every credential.

Tokens come from azure-identity's ClientSecretCredential for
`https://api.partner.microsoft.com/.default` and are refreshed five minutes before expiry, so a
run that waited an hour never sends an expired token. When Entra refuses the secret
(`invalid_client`, i.e. rotated) the secret is read again once (from Key Vault: shared.vault).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from azure.core.credentials import AccessToken
from azure.core.exceptions import (
    ClientAuthenticationError,
    ServiceRequestError,
    ServiceResponseError,
)

from shared import redaction
from shared.settings import PARTNER_CENTER_SCOPE, Settings

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


# How long Entra and Key Vault get to connect and to answer: azure-core's default, 300 s each,
# let a request left unanswered hold a stage five minutes an attempt, the token's or the
# secret's lock with it, while a short timeout fails into the credential backoff.
SDK_TIMEOUTS = {"connection_timeout": 10.0, "read_timeout": 30.0}


def sdk_kwargs(settings: Settings) -> dict[str, Any]:
    """The Azure SDK clients' transport settings: their timeouts, and TLS with the system's
    CAs plus the configured bundle."""
    tls = {"connection_verify": settings.ca_bundle} if settings.ca_bundle else {}
    return {**SDK_TIMEOUTS, **tls}


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
            **sdk_kwargs(self._settings),
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
                if isinstance(exc.__cause__, ServiceRequestError | ServiceResponseError):
                    raise CredentialError(  # no answer is no refusal: say which it was
                        f"Entra did not answer a token request in time or could not be "
                        f"reached ({type(exc.__cause__).__name__}; authority "
                        f"{self._settings.authority_host}, tenant {self._settings.tenant_id})"
                    ) from None
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
