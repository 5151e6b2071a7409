"""The pace the client asks before each Partner Center call. The function app's is the
tenant's shared, adaptive budget (shared.partnercenter.budget); the client only knows this
shape, so it needs no storage of its own."""

from __future__ import annotations

from typing import Protocol


class Pace(Protocol):
    def acquire(self) -> None: ...
    def throttled(self, retry_after: float | None) -> None: ...
