"""How long Partner Center takes (profiles), and the clock the simulator's states are computed
from: wall time plus an offset that tests and the admin API move forward instead of sleeping."""

from __future__ import annotations

import time
from dataclasses import dataclass

NEVER = "1601-01-01T00:00:00Z"


@dataclass(frozen=True)
class Profile:
    """How long Partner Center takes, in seconds."""

    accept: float
    certify: float
    publish: float
    process_package: float = 1.0

    @classmethod
    def named(cls, name: str) -> Profile:
        return PROFILES[name]


PROFILES = {
    "fast": Profile(accept=0.2, certify=1.0, publish=1.0, process_package=0.5),
    "realistic": Profile(accept=5.0, certify=45.0, publish=45.0, process_package=10.0),
}


class Clock:
    """Wall time plus an offset that tests and the admin API can move forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1e6):06d}Z"
