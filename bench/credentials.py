"""Credentials over a multi-hour run: tokens acquired and Key Vault reads per process while a
stage calls Partner Center every few seconds for hours (simulated clock, real caching code).

Targets: one token per token lifetime (60 minutes), at most one secret read per cache TTL.
Writes bench/results/credentials.json.

    python -m bench.credentials [--hours 6] [--call-every 10]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from azure.core.credentials import AccessToken

from shared.credentials import PartnerCenterTokens
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
LIFETIME = 3600


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class CountingSecret:
    """Stands in for KeyVaultSecret with the same TTL rule, counting reads."""

    def __init__(self, clock: Clock, ttl: float) -> None:
        self.clock, self.ttl, self.reads, self._at = clock, ttl, 0, -1e18

    def get(self, *, fresh: bool = False) -> str:
        if fresh or self.clock() - self._at >= self.ttl:
            self.reads += 1
            self._at = self.clock()
        return "secret"


class CountingCredential:
    """Stands in for ClientSecretCredential: tokens live LIFETIME seconds."""

    issued = 0

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        CountingCredential.issued += 1
        return AccessToken(f"token-{CountingCredential.issued}", int(self.clock() + LIFETIME))

    def close(self) -> None:
        pass


def run(hours: float, call_every: float, ttl: float) -> dict[str, Any]:
    clock = Clock()
    settings = Settings(
        storage_connection="x",
        tenant_id="t",
        client_id="c",
        key_vault_url="https://vault.example",
        secret_cache_seconds=ttl,
    )
    secret = CountingSecret(clock, ttl)
    tokens = PartnerCenterTokens(
        settings,
        secret,
        clock=clock,
        credential_for=lambda s: CountingCredential(clock),
    )
    calls = 0
    end = clock.now + hours * 3600
    expired_sent = 0
    while clock.now < end:
        tokens.token()
        current = tokens._token
        if current is None or current.expires_on <= clock.now:
            expired_sent += 1
        calls += 1
        clock.now += call_every
    return {
        "hours": hours,
        "calls": calls,
        "tokens_acquired": tokens.acquired,
        "tokens_per_lifetime": round(tokens.acquired / (hours * 3600 / LIFETIME), 2),
        "secret_reads": secret.reads,
        "secret_cache_ttl_s": ttl,
        "expired_tokens_sent": expired_sent,
        "target": "about one token per 60-minute lifetime; secret reads <= tokens",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=6)
    parser.add_argument("--call-every", type=float, default=10)
    parser.add_argument("--ttl", type=float, default=300)
    args = parser.parse_args()
    result = run(args.hours, args.call_every, args.ttl)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "credentials.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
