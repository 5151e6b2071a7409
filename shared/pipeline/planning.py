"""Target plan: what a request would change, field by field (module, plan, language, old ->
new), with no write and no submission; and what the plan sees on the way: drift (fields whose
draft differs from what is live: someone's edit in Partner Center, which a publish of the
module would carry out, or which this plan would set back) and a submission in flight.

It reads exactly what the draft stage reads and compares as it compares, so a plan that shows
no change is a publish that would write nothing.
"""

from __future__ import annotations

import json
from typing import Any

from shared.ledger import Run
from shared.partnercenter.status import blocking
from shared.pipeline import media, videos
from shared.pipeline.deps import StageDeps
from shared.pipeline.draft_stage import Target, draft_targets
from shared.pipeline.drafts import EMPTY, differences, instance_of, pick
from shared.pipeline.drift import drift
from shared.pipeline.outcomes import Finished, Outcome, Patch
from shared.pipeline.submission_state import newest_submission
from shared.publish_request import DraftChanges

MAX_VALUE = 1000  # characters of an old or new value shown (a description can be 30,000)
# The record is kept on the run's table row (at most 1 MiB): entries past this many characters
# of JSON are counted, not kept.
MAX_RECORD_CHARS = 300_000


def plan(run: Run, deps: StageDeps) -> Outcome:
    """Read every module the request names and record how each would change."""
    assert run.product_id is not None
    pid = run.product_id
    plan_of = {variant: plan for plan, variant in run.plans.items()}
    changes: list[dict[str, Any]] = []
    refused: list[str] = []
    targets = draft_targets(run, uploaded=False)
    for target in targets:
        instance = instance_of(deps.pc, pid, target.module, target.variant)
        resources = deps.pc.drafts(pid, target.collection, instance, target.expand)
        current = pick(resources, target.language) or EMPTY
        if target.guard and (why := target.guard(current)):
            refused.append(why)
        for name, new in differences(current.body, target.desired(current)).items():
            changes.append(entry(target, plan_of, name, current.body.get(name), new))
    for files in media.media_targets(run):
        held, want = media.current(deps, pid, files), media.wanted(files, deps.files)
        named = {(i.type.lower(), i.file_name.lower()) for i in held}
        refused += [
            f"{w.file_name} is not in Partner Center and the request gives no file for it"
            for w in want
            if w.source is None and w.key not in named
        ]
        old, new = media.shown(files.kind, held), media.shown(files.kind, want)
        if old != new:
            plan_name = plan_of.get(files.variant or "") if files.variant else None
            changes.append(media.change(files, plan_name, old, new))
    for clips in videos.video_targets(run):
        held_clips, want_clips = videos.current(deps, pid, clips), videos.wanted(clips, deps)
        have = {videos.key_of(v) for v in held_clips}
        refused += [
            f"video {w.title!r} ({w.link}) is new, and its thumbnail {w.thumbnail} needs a file"
            for w in want_clips
            if w.source is None and w.key not in have
        ]
        old, new = videos.shown(held_clips), videos.shown(want_clips)
        if old != new:
            plan_name = plan_of.get(clips.variant or "") if clips.variant else None
            where = {"module": "Listing", "plan": plan_name, "language": clips.language}
            changes.append({**where, "field": "videos", "old": old, "new": new})
    changes += _packages(run)
    subs = deps.pc.submissions(pid)
    holder = newest_submission([s for s in subs if blocking(s)])
    drifted = drift(deps.pc, pid, subs, plan_of)
    planned = {_key(c): c["new"] for c in changes}
    touched = {(t.module, plan_of.get(t.variant or "")) for t in targets}
    for item in drifted:
        if _key(item) in planned:  # this plan sets the field: to the live value, or another
            item["planned"] = planned[_key(item)]
        item["inRequest"] = (item["module"], item["plan"]) in touched
    kept_changes, kept_drift = _within(changes + drifted, len(changes))
    record: dict[str, Any] = {
        "changes": kept_changes,
        "drift": kept_drift,
        "refused": refused[:10],
        "inFlight": {"submissionId": holder.id, "status": holder.status} if holder else None,
        "truncated": len(changes) + len(drifted) - len(kept_changes) - len(kept_drift),
    }
    return Finished(planned=True, reason=summary(record), patch=Patch(plan=record))


def _within(
    items: list[dict[str, Any]], first: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The entries that fit the record (changes first, then drift), long values cut."""
    kept: list[tuple[int, dict[str, Any]]] = []
    used = 0
    for index, item in enumerate(items):
        item = {k: shown(v) for k, v in item.items()}
        size = len(json.dumps(item, default=str))
        if used + size > MAX_RECORD_CHARS:
            break
        used += size
        kept.append((index, item))
    return [i for n, i in kept if n < first], [i for n, i in kept if n >= first]


def entry(target: Target, plan_of: dict[str, str], name: str, old: Any, new: Any) -> dict[str, Any]:
    """One field that differs, where it is and what it is and would be."""
    return {
        "module": target.module,
        "plan": plan_of.get(target.variant or "") if target.variant else None,
        "language": target.language,
        "field": name,
        "old": old,
        "new": new,
    }


def shown(value: Any) -> Any:
    """A value as recorded: long text cut (the record says so), structures as they are."""
    if isinstance(value, str) and len(value) > MAX_VALUE:
        return value[:MAX_VALUE] + f"... ({len(value)} characters)"
    return value


def _packages(run: Run) -> list[dict[str, Any]]:
    """Packages are files to upload, not fields: shown as what would be uploaded."""
    sources = DraftChanges.model_validate(run.changes).package_sources()
    found = []
    for where, source in sorted(sources.items()):
        plan = where.split(".")[1] if where.startswith("plans.") else None
        found.append(
            {
                "module": "Package",
                "plan": plan,
                "language": None,
                "field": where.rsplit(".", 1)[-1] if plan else where,
                "old": None,
                "new": f"upload {source.file_name}",
            }
        )
    return found


def summary(record: dict[str, Any]) -> str:
    """The plan in one line: what would change, drift, a submission in flight."""
    changes, drifted = record["changes"], record["drift"]
    modules = sorted({_where(c) for c in changes})
    parts = [
        f"{len(changes)} change(s) in {', '.join(modules)}" if changes else "no change",
    ]
    if drifted:
        parts.append(f"drift in {', '.join(sorted({_where(d) for d in drifted}))}")
    if record["refused"]:
        parts.append("would be refused: " + "; ".join(record["refused"]))
    if record["inFlight"]:
        flight = record["inFlight"]
        parts.append(f"submission {flight['submissionId']} in flight ({flight['status']})")
    return "; ".join(parts)


def _key(item: dict[str, Any]) -> tuple[Any, ...]:
    return (item["module"], item.get("plan"), item.get("language"), item["field"])


def _where(item: dict[str, Any]) -> str:
    where = item["module"]
    if item.get("plan"):
        where += f"@{item['plan']}"
    if item.get("language"):
        where += f"[{item['language']}]"
    return str(where)
