"""The fence before a non-idempotent call reads the run only when the claim could have been
taken over: a claim this delivery wrote moments ago cannot have been (no delivery takes a
claim younger than `claim_seconds`), so the read is spared on the common path."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any, cast

import pytest

from shared.ledger import now_utc, stamp
from shared.partnercenter.errors import ClaimLost
from shared.pipeline.effects import CLAIM, Pipeline
from shared.pipeline.runner import _still_claimed


class Ledger:
    def __init__(self, claimed_at: str | None) -> None:
        self.claimed_at, self.reads = claimed_at, 0

    def get(self, run_id: str) -> Any:
        self.reads += 1
        return SimpleNamespace(claimed_at=self.claimed_at)


def fence(age_seconds: float, stored: str | None = None) -> tuple[Ledger, Pipeline]:
    """This delivery's claim, `age_seconds` old, and the claim the ledger holds (the same one
    unless `stored` says otherwise)."""
    now = now_utc()
    mine = stamp(now - timedelta(seconds=age_seconds))
    CLAIM.set(mine)
    ledger = Ledger(stored or mine)
    deps = SimpleNamespace(ledger=ledger, clock=lambda: now, claim_seconds=300)
    return ledger, cast(Pipeline, deps)


def test_a_young_claim_is_trusted_without_a_read() -> None:
    ledger, pipeline = fence(10, stored="someone else's")
    _still_claimed(pipeline, "run-1")
    assert ledger.reads == 0


def test_an_older_claim_is_read_and_a_lost_one_stops_the_call() -> None:
    ledger, pipeline = fence(200, stored="someone else's")
    with pytest.raises(ClaimLost):
        _still_claimed(pipeline, "run-1")
    assert ledger.reads == 1


def test_an_older_claim_still_ours_lets_the_call_go() -> None:
    ledger, pipeline = fence(200)
    _still_claimed(pipeline, "run-1")
    assert ledger.reads == 1
