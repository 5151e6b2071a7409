"""What a move of a release's run means for the rest of the release: its record and events
(shared.release_events), and the offers waiting at a gate on it, woken at once.

A gate (shared.pipeline.gates) waits for offers of its release: those it depends on reaching
preview or live, or failing; and room in flight. Found by polling alone, news crossed a level
of dependencies per poll interval (a minute as deployed), and a release of many offers kept
one check a base interval per offer waiting. So when a run settles (in preview, live,
unchanged, failed) the mates it can let on are woken: its direct dependants waiting at a gate,
and, when it leaves the release's flight, as many offers waiting only for room as it left.
Waking is the checks' own protocol: the mate's next check is moved to now with a conditional
write that marks it sent, then sent (shared.pipeline.sends), so a copy is consumed as stale
and a wake lost with its instance is sent by the poller's tick once its mark's lease is over.
Best effort: nothing here fails the mover's own write, and a gate still checks now and then.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from shared.fanout import fan_out
from shared.ledger import Run, RunStatus, stamp
from shared.messages import Stage
from shared.pipeline.events import publish
from shared.pipeline.gates import GATES, waits_on_mates
from shared.pipeline.sends import wake
from shared.release_events import note
from shared.releases import FAILED, IN_FLIGHT, LIVE, PREVIEW, UNCHANGED, Release, reached, state_of
from shared.wording import listed

if TYPE_CHECKING:
    from shared.pipeline.effects import Pipeline

log = logging.getLogger(__name__)
SETTLED = frozenset({PREVIEW, LIVE, UNCHANGED, FAILED})  # what a mate may be waiting for
WAKING = 8  # mates woken at once (a library's failure wakes every app built on it)
SHOWN = 10  # mates named in the log line that says who was woken


def release_moved(pipeline: Pipeline, run: Run) -> None:
    """A release's run moved: the release may now be ready, or over (its events, once), and
    the mates waiting on this run check now."""
    if not run.release_id or pipeline.releases is None:
        return
    seen = note(pipeline.releases, run, partial(publish, pipeline), lambda: stamp(pipeline.clock()))
    if seen is None or state_of(run) not in SETTLED:
        return
    try:
        wake_mates(pipeline, run, *seen)
    except Exception:
        log.warning("could not wake a release's waiting offers", exc_info=True)


def wake_mates(
    pipeline: Pipeline, run: Run, release: Release, states: dict[str, Run | None]
) -> list[str]:
    """Wake the mates `run` (just written, settled) can let on, from the release and where
    its offers stand as read after that write; the names of those woken."""
    member = release.members.get(run.release_name)
    if member is None or str(member.get("run")) != run.run_id:
        return []
    chosen = [n for n in dependants_of(release, run.release_name) if _at_gate(states.get(n))]
    if run.run_id in release.admitted:  # it left the flight: room for another
        busy = sum(1 for r in states.values() if state_of(r) == IN_FLIGHT)
        ready = [n for n in waiting_for_room(release, states) if n not in chosen]
        chosen += ready[: max(0, release.max_in_flight - busy)]
    now = pipeline.clock()
    runs = [str(release.members[n]["run"]) for n in chosen]
    waking = fan_out(lambda run_id: _wake(pipeline, run_id, now), runs, workers=WAKING)
    woken = [n for n, done in zip(chosen, waking, strict=True) if done]
    if woken:
        log.info(
            "%s is %s: woke %s",
            run.release_name,
            state_of(run),
            listed(woken, SHOWN),
            extra={"action": "release_mates_woken", "requestId": run.run_id},
        )
    return woken


def dependants_of(release: Release, name: str) -> list[str]:
    """The offers that depend on `name` directly, in the release's order."""
    return [n for n, m in release.members.items() if name in m.get("dependsOn", [])]


def waiting_for_room(release: Release, states: dict[str, Run | None]) -> list[str]:
    """Offers at the release gate, not admitted, whose dependencies have all reached what
    they need: only room in flight holds them (in the release's order)."""
    found = []
    for name, member in release.members.items():
        run = states.get(name)
        if run is None or run.status is not RunStatus.WAITING or run.stage != Stage.AWAIT_RELEASE:
            continue
        if run.run_id in release.admitted:
            continue
        needs = str(member.get("needs") or "preview")
        depends_on = [] if run.target == "plan" else member.get("dependsOn", [])  # as the gate
        if all(reached(states.get(d), needs) for d in depends_on):
            found.append(name)
    return found


def _at_gate(run: Run | None) -> bool:
    return run is not None and run.status is RunStatus.WAITING and run.stage in GATES


def _wake(pipeline: Pipeline, run_id: str, now: datetime) -> bool:
    """Move a mate's next check to now and send it (shared.pipeline.sends.wake)."""
    return wake(
        pipeline.ledger,
        pipeline.queues,
        run_id,
        pipeline.clock,
        lambda mate: _at_gate(mate) and waits_on_mates(mate, now),
    )
