from __future__ import annotations

import pytest

from shared.partnercenter.ratelimit import RateLimiter
from shared.settings import Settings
from shared.wiring import build_pipeline


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_calls_are_spaced_at_the_rate() -> None:
    t = FakeTime()
    limiter = RateLimiter(120, clock=t.clock, sleep=t.sleep)  # one every 0.5 s
    for _ in range(5):
        limiter.acquire()
    assert t.slept == pytest.approx([0.5, 0.5, 0.5, 0.5])
    t.now += 10  # idle: no burst credit builds up beyond the next slot
    limiter.acquire()
    limiter.acquire()
    assert t.slept[-1] == pytest.approx(0.5)


def test_the_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(0)


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
    assert pc._limiter.ceiling == 600  # type: ignore[attr-defined]
