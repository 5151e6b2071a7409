"""A publish run as the ledger records it: its status, stage, timeline and what it learned,
and how it is stored in a table row (JSON fields in parts, text capped and scrubbed)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from shared.tables import capped, join_text, split_text

PARTITION = "run"


class RunStatus(StrEnum):
    RUNNING = "running"  # a stage message is on its way
    WAITING = "waiting"  # the poller checks Partner Center at next_check_at
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REJECTED = "rejected"  # the request was invalid; nothing was called
    CANCELLED = "cancelled"  # its submission was cancelled (in Partner Center, or by us)
    UNCHANGED = "unchanged"  # onlyChanged, and nothing differed: no submission was made
    PLANNED = "planned"  # target plan: what would change is recorded; nothing was written

    @property
    def terminal(self) -> bool:
        return self in (
            RunStatus.SUCCEEDED,
            RunStatus.FAILED,
            RunStatus.REJECTED,
            RunStatus.CANCELLED,
            RunStatus.UNCHANGED,
            RunStatus.PLANNED,
        )


def now_utc() -> datetime:
    return datetime.now(UTC)


def stamp(when: datetime) -> str:
    """Fixed-width UTC text, so string comparison in table queries is time order."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_stamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


@dataclass(kw_only=True)
class StageRecord:
    stage: str
    started: str
    ended: str | None = None
    calls: int = 0
    result: str | None = None


@dataclass(kw_only=True)
class Run:
    run_id: str
    status: RunStatus
    stage: str
    target: str = ""
    offer: str = ""
    offer_external_id: str | None = None
    product_id: str | None = None
    submission_id: str | None = None
    baseline_submission_id: str | None = None
    pc_status: str | None = None
    reason: str | None = None
    requested_by: str | None = None
    fingerprint: str | None = None  # hash of the accepted request (shared.publish_request)
    labels: dict[str, str] = field(default_factory=dict)
    created_at: str = ""
    updated_at: str = ""
    next_check_at: str | None = None
    checked_at: str | None = None  # when the last check due in this wait found it still going
    check_sent: str | None = None  # the next check's time, when the write sent it itself
    timeline: list[StageRecord] = field(default_factory=list)
    changes: dict[str, Any] = field(default_factory=dict)  # the request's draft changes
    offer_type: str = ""  # the product's resourceType (shared.offer_types)
    plans: dict[str, str] = field(default_factory=dict)  # plan id -> variant id
    plan_types: dict[str, str] = field(default_factory=dict)  # plan id -> subType
    packages: dict[str, str] = field(default_factory=dict)  # package slot -> package id
    changed_modules: list[str] = field(default_factory=list)
    # Target plan: what the request would change, and drift (shared.pipeline.planning).
    plan: dict[str, Any] = field(default_factory=dict)
    # Target export: where the exported request was written (shared.pipeline.export).
    export: str | None = None
    export_from: str | None = None  # target export: draft, preview or live
    # Modules the draft stage found differing, recorded before it wrote any of them.
    planned_modules: list[str] | None = None
    # Non-idempotent calls this run made or is making: key -> {"state": sent|done|refused, ...}
    intents: dict[str, dict[str, str]] = field(default_factory=dict)
    last_error: str | None = None
    # A stretch of transient trouble: when its first retry was, and when it was announced
    # (shared.pipeline.trouble); any outcome but a retry clears both.
    troubled_since: str | None = None
    trouble_said: str | None = None
    dead_letter: str | None = None
    claimed_at: str | None = None  # when a delivery last claimed the current stage
    claimed_stage: str | None = None
    held_seconds: float = 0.0  # time held by incidents (not counted against the deadline)
    # Go-live control: "auto" or "approval"; not promoted before `not_before` (ISO UTC).
    go_live: str = "auto"
    not_before: str | None = None
    only_changed: bool = False  # nothing differs and no package: end unchanged, no submission
    # {"state": approved|rejected, "by", "at", "reason"} once someone decided.
    approval: dict[str, str] = field(default_factory=dict)
    cancel: dict[str, str] = field(default_factory=dict)  # {"by", "at", "reason"} when asked
    # A release's offer: its release, its name there, what it waits for.
    release_id: str = ""
    release_name: str = ""
    depends_on: list[str] = field(default_factory=list)
    needs: str = ""
    # Failed because offers it depends on failed: the offers whose own failure it was (not
    # those only blocked in turn), so a chain of dependants names its cause, not its links.
    blocked_by: list[str] = field(default_factory=list)
    trace: str | None = None  # W3C traceparent of the run's root span (shared.observability)
    etag: str | None = None
    # Never stored: the intents this very invocation recorded, and what it read before its
    # checkpoint (shared.pipeline.outcomes.Checkpoint).
    fresh: tuple[str, ...] = ()
    memo: Any = None
    # Never stored: what the index row holds of this run as last read or written, so a write
    # that changes none of it (a claim, a checkpoint) leaves the index alone
    # (shared.run_index.indexed_fields).
    indexed: tuple[Any, ...] | None = None

    def evolve(self, **changes: Any) -> Run:
        return replace(self, **changes)

    def to_entity(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _MEMORY}
        data["timeline"] = [asdict(s) for s in self.timeline]
        data["status"] = str(self.status)
        entity = {k: capped(v) for k, v in data.items() if v is not None and k not in _JSON_FIELDS}
        for name in _JSON_FIELDS:
            entity.update(split_text(name, json.dumps(data[name])))
        entity["PartitionKey"] = PARTITION
        entity["RowKey"] = self.run_id
        return entity

    @classmethod
    def from_entity(cls, entity: Any) -> Run:
        names = set(cls.__dataclass_fields__)
        raw = dict(entity)
        data = {k: v for k, v in raw.items() if k in names and k not in _JSON_FIELDS}
        data["status"] = RunStatus(data["status"])
        for name in _JSON_FIELDS:
            text = join_text(raw, name)
            if text:
                data[name] = json.loads(text)
        data["timeline"] = [StageRecord(**s) for s in data.get("timeline", [])]
        data["etag"] = entity.metadata.get("etag")
        return cls(**data)


_JSON_FIELDS = (
    "timeline",
    "labels",
    "changes",
    "plans",
    "plan_types",
    "packages",
    "changed_modules",
    "planned_modules",
    "intents",
    "approval",
    "cancel",
    "depends_on",
    "blocked_by",
    "plan",
)
_MEMORY = ("etag", "fresh", "memo", "indexed")


def closed_timeline(run: Run, stage: str, at: str, calls: int, result: str) -> list[StageRecord]:
    """The timeline with the open record of `stage` closed at `at` (or a record of it that
    began and ended then)."""
    timeline = list(run.timeline)
    if timeline and timeline[-1].stage == stage and timeline[-1].ended is None:
        last = timeline[-1]
        timeline[-1] = StageRecord(
            stage=last.stage,
            started=last.started,
            ended=at,
            calls=last.calls + calls,
            result=result,
        )
    else:
        timeline.append(StageRecord(stage=stage, started=at, ended=at, calls=calls, result=result))
    return timeline


def counted_timeline(run: Run, stage: str, calls: int) -> list[StageRecord]:
    """The timeline with calls added to the open record of a stage still going (a wait or a
    retry)."""
    timeline = list(run.timeline)
    if timeline and timeline[-1].stage == stage and timeline[-1].ended is None:
        last = timeline[-1]
        timeline[-1] = StageRecord(stage=last.stage, started=last.started, calls=last.calls + calls)
    return timeline
