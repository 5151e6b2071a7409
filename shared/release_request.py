"""The release request (schema v1, schemas/release-request.v1.json): many offers released as
one, in dependency order, sent on the same queue as single publish requests (a body with a
`releaseId` is a release).

Each offer entry carries what a single request carries for its offer; `dependsOn` names other
entries that must reach `needs` (preview, by default, or live) before it is submitted, and a
run never goes live before the offers it depends on are live. Names, dependencies and cycles
are checked here, so a release that cannot be ordered is rejected at intake.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Literal

from pydantic import Field, model_validator

from shared.publish_request import GoLive, OfferRef, PublishRequest, load_body, validated
from shared.request_base import PRINTABLE, UTC_TIME_PATTERN, Strict
from shared.request_changes import DraftChanges

# A release id and an offer name make each run's id, `<releaseId>.<name>` (at most 100).
RELEASE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_:-]{0,47}$"
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
LabelKey = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
LabelValue = Annotated[str, Field(max_length=256, pattern=PRINTABLE)]
# A request's 48 KB and 2,000 JSON members bind first for offers that carry changes (~195).
MAX_OFFERS = 250


def member_run_id(release_id: str, name: str, attempt: int = 1) -> str:
    """An offer's run in a release: `<release>.<name>`, and `.r<n>` for a re-drive's."""
    first = f"{release_id}.{name}"
    return first if attempt <= 1 else f"{first}.r{attempt}"


def attempt_of(run_id: str, release_id: str, name: str) -> int:
    """The attempt `member_run_id` made `run_id` for (1 when it names none)."""
    again = run_id.removeprefix(f"{release_id}.{name}.r")
    return int(again) if again != run_id and again.isdecimal() else 1


class ReleaseOffer(Strict):
    """One offer of the release: which, what changes, and what it waits for."""

    name: Name
    offer: OfferRef
    changes: DraftChanges | None = None
    depends_on: list[Name] = Field(default_factory=list, alias="dependsOn", max_length=MAX_OFFERS)
    needs: Literal["preview", "live"] = "preview"


class ReleaseRequest(Strict):
    """A release, schema version 1."""

    schema_version: Literal[1] = Field(alias="schemaVersion")
    release_id: str = Field(alias="releaseId", pattern=RELEASE_ID_PATTERN)
    # plan: every offer's plan, side by side (nothing written, no dependency waited for)
    target: Literal["preview", "live", "plan"]
    go_live: GoLive = Field(default="auto", alias="goLive")
    not_before: Annotated[str, Field(pattern=UTC_TIME_PATTERN)] | None = Field(
        default=None, alias="notBefore"
    )
    only_changed: bool = Field(default=False, alias="onlyChanged")
    max_in_flight: int = Field(default=5, alias="maxInFlight", ge=1, le=MAX_OFFERS)
    requested_by: str | None = Field(
        default=None, alias="requestedBy", max_length=200, pattern=PRINTABLE
    )
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict, max_length=10)
    offers: list[ReleaseOffer] = Field(min_length=1, max_length=MAX_OFFERS)

    @model_validator(mode="after")
    def _ordered(self) -> ReleaseRequest:
        names = [o.name for o in self.offers]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"offer names used twice: {', '.join(twice)}")
        keys = [o.offer.key for o in self.offers]
        same = sorted({k for k in keys if keys.count(k) > 1})
        if same:
            raise ValueError(f"an offer appears twice in the release: {', '.join(same)}")
        known = set(names)
        for entry in self.offers:
            unknown = sorted(set(entry.depends_on) - known)
            if unknown:
                raise ValueError(f"{entry.name} depends on unknown offers: {', '.join(unknown)}")
        cycle = _cycle({o.name: o.depends_on for o in self.offers})
        if cycle:
            raise ValueError(f"dependencies form a cycle: {' -> '.join(cycle)}")
        if self.go_live == "approval" and self.target != "live":
            raise ValueError("goLive approval needs target live")
        if self.not_before and self.target != "live":
            raise ValueError("notBefore needs target live")
        if self.target == "preview" and any(o.needs == "live" for o in self.offers):
            raise ValueError("needs live takes target live")  # (a plan ignores it)
        return self

    def run_id(self, name: str) -> str:
        return member_run_id(self.release_id, name)

    def member(self, entry: ReleaseOffer) -> PublishRequest:
        """The single request an offer of the release amounts to."""
        return PublishRequest.model_validate(
            {
                "schemaVersion": 1,
                "requestId": self.run_id(entry.name),
                "offer": entry.offer.model_dump(by_alias=True, exclude_none=True),
                "target": self.target,
                "goLive": self.go_live,
                **({"notBefore": self.not_before} if self.not_before else {}),
                "onlyChanged": self.only_changed,
                **(
                    {"changes": entry.changes.model_dump(by_alias=True, exclude_none=True)}
                    if entry.changes
                    else {}
                ),
                **({"requestedBy": self.requested_by} if self.requested_by else {}),
                "labels": {**self.labels, "release": self.release_id},
            }
        )

    def fingerprint(self) -> str:
        canonical = json.dumps(
            self.model_dump(by_alias=True, exclude_none=True), sort_keys=True, separators=(",", ":")
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


def _cycle(graph: dict[str, list[str]]) -> list[str]:
    """One dependency cycle (its names, the first repeated at the end), or []."""
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(name: str) -> list[str]:
        state[name] = 1
        path.append(name)
        for dep in graph[name]:
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep not in state and (found := visit(dep)):
                return found
        path.pop()
        state[name] = 2
        return []

    for name in sorted(graph):
        if name not in state and (found := visit(name)):
            return found
    return []


def parse_request(body: str | bytes) -> PublishRequest | ReleaseRequest:
    """A body from the request queue: a release (it has a `releaseId`) or a single request;
    RequestRejected with a readable reason otherwise."""
    data = load_body(body)
    if "releaseId" in data and "requestId" not in data:
        return validated(ReleaseRequest, data)
    return validated(PublishRequest, data)
