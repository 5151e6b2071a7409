"""What the client tests call: a client with fast retries, and the statuses of the calls
the simulator logged."""

from __future__ import annotations

from typing import Any

from pcsim.admin import SimulatorClient
from shared.credentials import PartnerCenterTokens
from shared.partnercenter.client import PartnerCenterClient, RetryPolicy
from shared.settings import Settings

FAST = RetryPolicy(initial_backoff=0.05, max_backoff=0.2, max_retry_after=5, max_total_seconds=20)


def make(settings: Settings, tokens: PartnerCenterTokens, **kw: Any) -> PartnerCenterClient:
    return PartnerCenterClient(
        settings.partner_center_api_url,
        tokens,
        verify=settings.ca_bundle or True,
        retry=kw.pop("retry", FAST),
        **kw,
    )


def calls(admin: SimulatorClient, method: str, path_end: str, since: int) -> list[int]:
    return [
        r["status"]
        for r in admin.requests(since)
        if r["method"] == method and r["path"].endswith(path_end)
    ]
