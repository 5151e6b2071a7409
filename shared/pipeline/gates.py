"""Gates: stages that call no one and only decide whether a run may go on.

    await_release  before resolve: the offers this one depends on have reached what it
                   needs (preview or live), and its release has room in flight
    await_go_live  before promote: approved (goLive approval), past notBefore, and the
                   offers it depends on are live

Time at a gate is a hold: it does not count against the run's deadline (the patch adds it to
`held_seconds` on leaving). An approval that never comes expires; while it waits a reminder
event goes out at each check.
"""

from __future__ import annotations

from datetime import datetime

from shared.ledger import Run, parse_stamp
from shared.messages import EventKind, Stage
from shared.pipeline.deps import StageDeps
from shared.pipeline.outcomes import Advance, Failed, Outcome, Patch, Wait
from shared.release_request import attempt_of
from shared.releases import (
    FAILED,
    LIVE,
    UNCHANGED,
    Release,
    Releases,
    blocked_by,
    reached,
    state_of,
)
from shared.wording import listed

GATES = frozenset({Stage.AWAIT_RELEASE, Stage.AWAIT_GO_LIVE})


def waits_on_mates(run: Run, now: datetime) -> bool:
    """Whether a run at a gate waits (at least also) on its release mates, so a mate's move
    may let it on now: not one still waiting for an approval or its scheduled time (a check
    of those would only remind early)."""
    if run.stage != Stage.AWAIT_GO_LIVE:
        return run.stage == Stage.AWAIT_RELEASE
    if run.go_live == "approval" and (run.approval or {}).get("state") != "approved":
        return False
    return not (run.not_before and now < parse_stamp(_stamp(run.not_before)))


def gated(run: Run) -> bool:
    """Whether a run that reached preview stops at await_go_live before promoting."""
    return run.go_live == "approval" or bool(run.not_before) or bool(run.depends_on)


def await_release(run: Run, deps: StageDeps) -> Outcome:
    release = deps.releases.get(run.release_id) if deps.releases and run.release_id else None
    if release is None or deps.releases is None:  # nothing to wait for (or the row is lost)
        return Advance(to=Stage.RESOLVE, patch=_left(run, deps))
    named = _named(run, release, deps)
    if named is not None:
        return named
    needs = run.needs or "preview"
    # A plan writes nothing, so it waits for no dependency: every offer is planned at once.
    depends_on = [] if run.target == "plan" else run.depends_on
    runs = deps.releases.runs(release, depends_on)
    failed = [d for d in depends_on if state_of(runs.get(d)) == FAILED]
    if failed:
        return blocked(failed, runs, deps.releases, release, "submitted")
    pending = [d for d in depends_on if not reached(runs.get(d), needs)]
    if pending:
        where = ", ".join(f"{d} ({state_of(runs.get(d))})" for d in pending)
        why = f"waiting for {where} to reach {needs}"
        delay = _on_mates(run, deps, Stage.AWAIT_RELEASE)
        return _wait(run, deps, Stage.AWAIT_RELEASE, why, delay=delay)
    if not deps.releases.admit(release.release_id, run.run_id):
        return _wait(
            run,
            deps,
            Stage.AWAIT_RELEASE,
            f"waiting for room: {release.max_in_flight} offers of release "
            f"{release.release_id} are in flight (maxInFlight)",
            delay=_on_mates(run, deps, Stage.AWAIT_RELEASE),
        )
    return Advance(to=Stage.RESOLVE, patch=_left(run, deps))


def await_go_live(run: Run, deps: StageDeps) -> Outcome:
    now = deps.now()
    if run.go_live == "approval":
        decided = _approval(run, deps, now)
        if decided is not None:
            return decided
    if run.not_before and now < parse_stamp(_stamp(run.not_before)):
        seconds = (parse_stamp(_stamp(run.not_before)) - now).total_seconds()
        return _wait(
            run,
            deps,
            Stage.AWAIT_GO_LIVE,
            f"scheduled: goes live at {run.not_before}",
            delay=min(seconds, deps.approval_remind_seconds),
        )
    release = deps.releases.get(run.release_id) if deps.releases and run.release_id else None
    if release is not None and deps.releases is not None and run.depends_on:
        runs = deps.releases.runs(release, run.depends_on)
        failed = [d for d in run.depends_on if state_of(runs.get(d)) == FAILED]
        if failed:
            return blocked(failed, runs, deps.releases, release, "promoted")
        pending = [d for d in run.depends_on if state_of(runs.get(d)) not in (LIVE, UNCHANGED)]
        if pending:
            where = ", ".join(f"{d} ({state_of(runs.get(d))})" for d in pending)
            why = f"in preview, waiting for {where} to go live first"
            delay = _on_mates(run, deps, Stage.AWAIT_GO_LIVE)
            return _wait(run, deps, Stage.AWAIT_GO_LIVE, why, delay=delay)
    return Advance(to=Stage.PROMOTE, patch=_left(run, deps))


def _approval(run: Run, deps: StageDeps, now: datetime) -> Outcome | None:
    """None when approved; otherwise the run's fate: rejected, expired, or still waiting."""
    approval = run.approval or {}
    state = approval.get("state", "pending")
    if state == "approved":
        return None
    if state == "rejected":
        return Failed(
            reason=f"go-live rejected by {approval.get('by', '?')} at {approval.get('at', '?')}"
            + (f": {approval['reason']}" if approval.get("reason") else "")
            + f"; submission {run.submission_id} stays in preview",
        )
    since = _gate_started(run) or now
    waited = (now - since).total_seconds()
    limit = deps.approval_timeout_seconds
    if waited >= limit:
        return Failed(
            reason=f"no approval within {limit / 3600:g} h (waiting since "
            f"{since:%Y-%m-%dT%H:%M:%SZ}); submission {run.submission_id} stays in preview"
        )
    who = run.release_id or run.run_id
    return _wait(
        run,
        deps,
        Stage.AWAIT_GO_LIVE,
        f"in preview, waiting for approval since {since:%Y-%m-%dT%H:%M:%SZ} "
        f"(pcpub approve {who}); expires after {limit / 3600:g} h",
        delay=min(deps.approval_remind_seconds, limit - waited),
        event=EventKind.APPROVAL_WAITING,
    )


def blocked(
    failed: list[str], runs: dict[str, Run | None], releases: Releases, release: Release, not_: str
) -> Failed:
    """Offers this run depends on failed: it fails naming them and, once, the offers whose
    own failure it was (a dependency blocked in turn names its cause in `blocked_by`), so a
    chain of dependants says what went wrong at its head, not each link around it."""
    causes = sorted({c for d in failed for c in (blocked_by(runs.get(d)) or [d])})
    known = {**runs, **releases.runs(release, [c for c in causes if c not in runs])}
    direct = [d for d in failed if not blocked_by(runs.get(d))]
    links = [d for d in failed if d not in direct]
    said = [_failure(d, known.get(d)) for d in direct]
    if links:
        heads = [c for c in causes if c not in direct]
        shown = [_failure(c, known.get(c)) for c in heads]
        said.append(f"{', '.join(links)} failed, blocked by " + listed(shown, MAX_CAUSES, "; "))
    return Failed(reason=f"blocked: {'; '.join(said)}; not {not_}", patch=Patch(blocked_by=causes))


MAX_CAUSES = 3  # the offers at the head of a blocking chain named with their reasons


def _failure(name: str, run: Run | None) -> str:
    if run is None:
        return f"{name} failed"
    return f"{name} {run.status}" + (f" ({run.reason[:200]})" if run.reason else "")


def _on_mates(run: Run, deps: StageDeps, gate: Stage) -> float:
    """Waiting on release mates: each of their moves that can let this run on wakes it at
    once (shared.pipeline.release_moves), so its own checks are only the net under a wake
    lost with its instance: a few base intervals apart, and thinning out as the wait grows
    (certification takes hours). At every base interval, the gates of a release of 250
    offers kept the check queue so full that a wake waited behind them."""
    net = max(deps.plain_poll(run, gate), NET * deps.poll_seconds)
    return min(net, max(deps.max_poll_seconds, deps.poll_seconds))


NET = 5  # base intervals between a gate's own checks, at the least


def _named(run: Run, release: Release, deps: StageDeps) -> Outcome | None:
    """None when the release names this run as its offer's. A re-drive opens its new runs
    before it names them (pcpub.controls.redrive_release): until then the release's rows are
    those of the attempt before, whose failures are not this run's to inherit, so it waits.
    A run the release has since replaced by a later attempt ends."""
    member = release.members.get(run.release_name)
    if member is None or str(member.get("run")) == run.run_id:
        return None
    if attempt_of(run.run_id, run.release_id, run.release_name) > int(member.get("attempt", 1)):
        why = f"re-driven: waiting for release {release.release_id} to name this run"
        return _wait(run, deps, Stage.AWAIT_RELEASE, why)
    return Failed(reason=f"superseded: release {release.release_id} runs {member.get('run')}")


def _wait(
    run: Run,
    deps: StageDeps,
    stage: Stage,
    reason: str,
    *,
    delay: float | None = None,
    event: EventKind | None = None,
) -> Wait:
    return Wait(
        check=stage,
        delay_seconds=max(0.0, deps.poll_seconds if delay is None else delay),
        reason=reason,
        event=event,
    )


def _gate_started(run: Run) -> datetime | None:
    last = run.timeline[-1] if run.timeline else None
    if last is not None and last.ended is None and last.stage in GATES:
        return parse_stamp(last.started)
    return None


def _left(run: Run, deps: StageDeps) -> Patch:
    """Leaving a gate: the time spent there was held, not worked."""
    started = _gate_started(run)
    if started is None:
        return Patch()
    return Patch(held_seconds=run.held_seconds + (deps.now() - started).total_seconds())


def _stamp(text: str) -> str:
    """A notBefore as the ledger's fixed-width stamp (seconds and fraction filled in)."""
    base = text.rstrip("Z")
    if base.count(":") == 1:
        base += ":00"
    if "." not in base:
        base += ".0"
    whole, frac = base.split(".")
    return f"{whole}.{frac.ljust(6, '0')[:6]}Z"
