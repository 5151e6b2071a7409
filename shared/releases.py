"""Releases in the ledger: one row per release (partition 'release' of the runs table) naming
its offers' runs, their dependencies and which of them were admitted; and what the runs add
up to (shared.releases.summarize), for `pcpub release status` and the release's events.

A release's offers are ordinary runs (`<releaseId>.<name>`), held at the `await_release` gate
until what they depend on has reached the state they need and the release has room in flight.
Admission is a conditional write on the release row, so two pollers never admit past the cap.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.ledger import Ledger, LedgerConflict, Run, RunStatus, now_utc, stamp
from shared.messages import Stage
from shared.run_index import indexed_fields
from shared.runs import PARTITION as RUNS
from shared.tables import capped, join_text, split_text

PARTITION = "release"
# What state_of reads, and what tells a failure blocked by another (summarize).
STATE_COLUMNS = ["run_id", "status", "stage", "target", "blocked_by"]
FEW = 4  # members read one by one; more, in one query of the release's run ids
_JSON = ("members", "admitted", "announced", "labels")
# Where a run stands, as its dependants and the release see it.
WAITING, IN_FLIGHT, PREVIEW, LIVE, UNCHANGED, FAILED, PLANNED = (
    "waiting",
    "in flight",
    "in preview",
    "live",
    "unchanged",
    "failed",
    "planned",
)
_PREVIEW_STAGES = {Stage.AWAIT_GO_LIVE, Stage.PROMOTE, Stage.AWAIT_LIVE, Stage.COMPLETE}


@dataclass(kw_only=True)
class Release:
    release_id: str
    target: str
    go_live: str
    fingerprint: str
    max_in_flight: int
    # name -> {"run": run id, "dependsOn": [names], "needs": "preview"|"live", "attempt": n}
    members: dict[str, dict[str, Any]]
    admitted: list[str] = field(default_factory=list)  # run ids let past the gate
    announced: list[str] = field(default_factory=list)  # release events already sent
    status: str = "running"  # running | ready | succeeded | failed | cancelled
    requested_by: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    created_at: str = ""
    updated_at: str = ""
    etag: str | None = None

    def to_entity(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "etag"}
        entity = {k: capped(v) for k, v in data.items() if v is not None and k not in _JSON}
        for name in _JSON:
            entity.update(split_text(name, json.dumps(data[name])))
        return {**entity, "PartitionKey": PARTITION, "RowKey": self.release_id}

    @classmethod
    def from_entity(cls, entity: Any) -> Release:
        raw = dict(entity)
        names = set(cls.__dataclass_fields__) - {"etag", *_JSON}
        data: dict[str, Any] = {k: v for k, v in raw.items() if k in names}
        for name in _JSON:
            text = join_text(raw, name)
            if text:
                data[name] = json.loads(text)
        return cls(**data, etag=entity.metadata.get("etag"))


def state_of(run: Run | None) -> str:
    if run is None:
        return WAITING
    if run.status is RunStatus.UNCHANGED:
        return UNCHANGED
    if run.status is RunStatus.PLANNED:
        return PLANNED
    if run.status is RunStatus.SUCCEEDED:
        return LIVE if run.target == "live" else PREVIEW
    if run.status.terminal:
        return FAILED
    if run.stage == Stage.AWAIT_RELEASE:
        return WAITING
    return PREVIEW if run.stage in _PREVIEW_STAGES else IN_FLIGHT


def reached(run: Run | None, needs: str) -> bool:
    state = state_of(run)
    return state in (LIVE, UNCHANGED) or (needs == "preview" and state == PREVIEW)


@dataclass(frozen=True)
class Summary:
    state: str  # running | ready | succeeded | failed
    states: dict[str, str]  # name -> where its run stands
    blocked: dict[str, list[str]]  # failed name -> the offers it holds back

    def describe(self) -> str:
        parts = [f"{name}: {state}" for name, state in sorted(self.states.items())]
        held = [f"{n} blocks {', '.join(b)}" for n, b in sorted(self.blocked.items()) if b]
        return "; ".join(parts + held)


def summarize(release: Release, runs: dict[str, Run | None]) -> Summary:
    states = {name: state_of(runs.get(name)) for name in release.members}
    failed = [n for n, s in states.items() if s == FAILED]
    # What each failure holds back, from the offers whose own failure it was (one blocked in
    # turn is in its cause's list: a chain is named once, not once a link).
    blocked = {n: dependants(release, n) for n in failed if not blocked_by(runs.get(n))}
    done = all(r is not None and r.status.terminal for r in runs.values())
    if done:
        state = "failed" if failed else "succeeded"
    elif all(s in (PREVIEW, LIVE, UNCHANGED) for s in states.values()):
        state = "ready"
    else:
        state = "running"
    return Summary(state, states, blocked)


def blocked_by(run: Run | None) -> list[str]:
    """The offers whose own failure a failed run's was (none: it failed on its own)."""
    return list(run.blocked_by) if run is not None and run.status.terminal else []


def dependants(release: Release, name: str) -> list[str]:
    """Every offer that depends on `name`, directly or not."""
    found: list[str] = []
    frontier = [name]
    while frontier:
        current = frontier.pop()
        for other, info in sorted(release.members.items()):
            if current in info.get("dependsOn", []) and other not in found:
                found.append(other)
                frontier.append(other)
    return sorted(found)


class Releases:
    """Release rows beside the runs (same table, partition 'release')."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def _table(self) -> TableClient:
        return self.ledger.table()

    def create(self, release: Release) -> bool:
        try:
            self._table().create_entity(release.to_entity())
        except ResourceExistsError:
            return False
        return True

    def get(self, release_id: str) -> Release | None:
        try:
            return Release.from_entity(self._table().get_entity(PARTITION, release_id))
        except ResourceNotFoundError:
            return None

    def replace(self, release: Release) -> Release:
        release = replace(release, updated_at=stamp(now_utc()))
        try:
            meta = self._table().update_entity(
                release.to_entity(),
                mode=UpdateMode.REPLACE,
                etag=release.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError) as exc:
            raise LedgerConflict(f"release {release.release_id} changed concurrently") from exc
        return replace(release, etag=meta.get("etag"))

    def runs(
        self,
        release: Release,
        names: Iterable[str] | None = None,
        columns: list[str] | None = None,
    ) -> dict[str, Run | None]:
        """The runs of the release's offers, all or those named: a few by their ids, more by
        one query of the run ids under the release's prefix (a gate that read every member
        on every check cost a read per offer, quadratic in the release's size). With
        `columns`, only those (STATE_COLUMNS: where each stands, not a run to write back)."""
        wanted = set(release.members) if names is None else set(names) & set(release.members)
        ids = {name: str(release.members[name]["run"]) for name in wanted}
        found = self._by_id(release.release_id, ids.values(), columns)
        return {name: found.get(run_id) for name, run_id in ids.items()}

    def taken(self, release_id: str, run_ids: Iterable[str]) -> list[str]:
        """Which of a new release's run ids already name a run of another request (a single
        request sent with such an id): one query of the ids under the release's prefix."""
        ids = set(run_ids)
        rows = self._under(release_id, ["RowKey", "release_id"])
        return sorted(
            row["RowKey"]
            for row in rows
            if row["RowKey"] in ids and row.get("release_id") != release_id
        )

    def _by_id(
        self, release_id: str, run_ids: Iterable[str], columns: list[str] | None = None
    ) -> dict[str, Run | None]:
        """Runs of a release by id (with `columns`, only those: enough to tell where each
        stands, not a run to write back); one not in the hot table (archived) is read whole
        by its id."""
        ids = set(run_ids)
        if len(ids) <= FEW:
            return {run_id: self.ledger.get(run_id) for run_id in ids}
        rows = self._under(release_id, columns)
        found: dict[str, Run | None] = {}
        for row in rows:
            if row["run_id"] in ids:
                run = Run.from_entity(row)
                found[run.run_id] = run if columns else run.evolve(indexed=indexed_fields(run))
        return {run_id: found.get(run_id) or self.ledger.get(run_id) for run_id in ids}

    def _under(self, release_id: str, columns: list[str] | None) -> Iterable[dict[str, Any]]:
        """The run rows whose ids start with the release's (`release_id.`): one range query."""
        return self._table().query_entities(
            "PartitionKey eq @p and RowKey ge @lo and RowKey lt @hi",
            parameters={"p": RUNS, "lo": f"{release_id}.", "hi": f"{release_id}/"},
            select=columns,
        )

    def admit(self, release_id: str, run_id: str) -> bool:
        """Let `run_id` past the gate if the release has room in flight; a conditional write,
        retried when another admission raced it."""
        for _ in range(5):
            release = self.get(release_id)
            if release is None:
                return True  # the row is lost: do not hold the run forever
            if run_id in release.admitted:
                return True
            busy = len(release.admitted)  # at most: read where they stand only when it matters
            if busy >= release.max_in_flight:
                admitted = self._by_id(release_id, release.admitted, STATE_COLUMNS)
                busy = sum(1 for r in admitted.values() if state_of(r) == IN_FLIGHT)
            if busy >= release.max_in_flight:
                return False
            try:
                self.replace(replace(release, admitted=[*release.admitted, run_id]))
                return True
            except LedgerConflict:
                continue
        return False
