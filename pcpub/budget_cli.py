"""`pcpub budget`: the tenant's Partner Center call budget as its instances share it (the
ledger's budget row): the rate it allows now, what Partner Center's last 429 taught it, calls
held for a Retry-After, and which calls press for room. Where to look first when runs are slow
and nothing failed: the budget is learned from the service, so it says what the service said."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from shared.partnercenter.budget_row import BudgetRow
from shared.partnercenter.budget_window import KNEE_SHARE, KNEE_WINDOWS, SLOTS, Pace, Window
from shared.partnercenter.call_priority import Priority

StorageArgs = Callable[[argparse.ArgumentParser], None]
WHO = {  # who presses, in an operator's words
    Priority.SUBMIT: "submission creates",
    Priority.START: "offer lookups",
    Priority.FINISH: "other stage calls",
    Priority.POLL: "status polls",
    Priority.LAST: "live polls",
}
PACE = Pace(ceiling=1.0)  # for its slot arithmetic only (a minute in one-second slots)


def register(sub: Any, storage_args: StorageArgs) -> None:
    budget = sub.add_parser(
        "budget", help="the tenant's Partner Center call budget, as the instances share it"
    )
    budget.add_argument("--json", action="store_true")
    storage_args(budget)


def handlers(storage: Callable[[argparse.Namespace], Any]) -> dict[str, Callable[..., int]]:
    return {"budget": lambda args: show(storage(args), args.json)}


def show(storage: Any, as_json: bool) -> int:
    state = describe(*read(storage), time.time())
    print(json.dumps(state, indent=2) if as_json else "\n".join(lines(state)))
    return 0


def read(storage: Any) -> tuple[Window, bool]:
    """The row as stored, and whether there is one."""
    window, etag = BudgetRow(storage.ledger, 0.0).read()
    return window, etag is not None


def describe(window: Window, stored: bool, now: float) -> dict[str, Any]:
    """The row's state at `now` as plain facts (times in UTC)."""
    current = PACE.slot(now)
    recent = sum(n for k, n in window.slots.items() if current - SLOTS <= int(k) <= current)
    fresh = bool(window.knee) and now - window.last_429 < KNEE_WINDOWS * 60
    return {
        "stored": stored,
        "ratePerMinute": round(window.rate),
        "rateSince": _at(window.changed_at),  # None: never moved from the ceiling
        "callsLastMinute": recent,
        "last429": _at(window.last_429),
        "kneePerMinute": round(window.knee) if window.knee else None,
        "kneeHolds": round(KNEE_SHARE * window.knee) if fresh else None,
        "kneeUntil": _at(window.last_429 + KNEE_WINDOWS * 60) if fresh else None,
        "provenPerMinute": round(window.proven) if window.proven else None,
        "heldUntil": _at(window.hold_until) if window.hold_until > now else None,
        "pressing": [_who(p) for p, t in sorted(window.pressed.items()) if t > now],
    }


def lines(state: dict[str, Any]) -> list[str]:
    if not state["stored"]:
        return [
            "no budget yet: no Partner Center call has gone through it (or it is off: "
            "PC_RATE_LIMIT_PER_MINUTE 0)"
        ]
    since = f" since {state['rateSince']}" if state["rateSince"] else ""
    said = [
        f"the tenant's budget: {state['ratePerMinute']} calls a minute{since}; "
        f"{state['callsLastMinute']} taken in the last minute"
    ]
    if state["last429"]:
        knee = state["kneePerMinute"]
        seen = f", with about {knee} calls a minute in the window" if knee else ""
        said.append(f"Partner Center's last 429: {state['last429']}{seen}")
        if state["kneeHolds"]:
            said.append(
                f"until {state['kneeUntil']} the rate climbs no higher than "
                f"{state['kneeHolds']} a minute, then on to the ceiling while no 429 comes"
            )
    else:
        said.append("no 429 from Partner Center yet: the rate is the configured ceiling")
    if state["heldUntil"]:
        said.append(f"calls are held until {state['heldUntil']} (Partner Center's Retry-After)")
    if state["pressing"]:
        said.append("waiting for room, ahead of lower priorities: " + ", ".join(state["pressing"]))
    return said


def held_line(storage: Any, now: float | None = None) -> str | None:
    """One line for `pcpub status` while Partner Center's Retry-After holds every call."""
    window, _ = read(storage)
    now = time.time() if now is None else now
    if window.hold_until <= now:
        return None
    return (
        f"Partner Center throttled the tenant: every call is held until "
        f"{_at(window.hold_until)} (pcpub budget)"
    )


def _who(level: str) -> str:
    """A pressing mark's priority in words (one this version does not know, by its number)."""
    known = {str(int(p)): who for p, who in WHO.items()}
    return known.get(level, f"priority {level[:8]}")


def _at(epoch: float) -> str | None:
    if epoch <= 0:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
