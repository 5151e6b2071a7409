"""Wire formats between our own parts: the stage message that carries a run between stages,
and the events pc-publisher emits (the publish request is shared.publish_request's).

Stage messages are ours but still validated, since a queue can be written by anyone with access
to the account.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.publish_request import REQUEST_ID_PATTERN


class Stage(StrEnum):
    """The stages of a publish run, in order (see shared.pipeline.stages for the table)."""

    INTAKE = "intake"
    AWAIT_RELEASE = "await_release"  # a release's offer waits for what it depends on
    RESOLVE = "resolve"
    AWAIT_TURN = "await_turn"  # another run of the offer holds its turn
    PLAN = "plan"  # target plan: what the request would change, and drift; no write
    EXPORT = "export"  # target export: the offer as a request that would reproduce it
    UPLOAD_PACKAGE = "upload_package"
    AWAIT_PACKAGE = "await_package"
    UPDATE_DRAFT = "update_draft"
    SUBMIT_PREVIEW = "submit_preview"
    AWAIT_PREVIEW = "await_preview"
    AWAIT_GO_LIVE = "await_go_live"  # approval, notBefore, dependencies live
    PROMOTE = "promote"
    AWAIT_LIVE = "await_live"
    COMPLETE = "complete"


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class StageMessage(_Strict):
    """Hands a run to a stage. The ledger holds the run's state; the message only names it."""

    version: Literal[1] = Field(default=1, alias="v")
    run_id: str = Field(alias="runId", pattern=REQUEST_ID_PATTERN)
    stage: Stage
    offer: str | None = Field(default=None, max_length=200)
    product_id: str | None = Field(default=None, alias="productId", max_length=100)
    # The run's trace (W3C); a malformed one is ignored, not refused (shared.observability).
    traceparent: str | None = Field(default=None, max_length=55)
    # A check's message: the due time it was sent for; once the run's next check moved on,
    # a copy of it is stale and consumed (shared.pipeline.checks).
    check_at: str | None = Field(
        default=None, alias="checkAt", pattern=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$"
    )

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=True)


class EventKind(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    # A message under an id whose run (or release) it did not change: another payload holds
    # the id, or the copy was invalid. Not `rejected`, which a sender following the id would
    # read as the end of the run the id names, while that run goes on as it was.
    REFUSED = "refused"
    STAGE_CHANGED = "stage-changed"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNCHANGED = "unchanged"  # onlyChanged and nothing to change: no submission
    PLANNED = "planned"  # target plan: the plan is on the run record (pcpub plan prints it)
    APPROVAL_WAITING = "approval-waiting"  # in preview, waiting for go-live approval (repeats)
    TROUBLED = "troubled"  # trouble retried past PC_TROUBLE_SECONDS (once a stretch)
    RELEASE_ACCEPTED = "release-accepted"  # requestId is the release's id (so for all release-*)
    RELEASE_READY = "release-ready"
    RELEASE_SUCCEEDED = "release-succeeded"
    RELEASE_FAILED = "release-failed"
    RELEASE_CANCELLED = "release-cancelled"
    INCIDENT_OPENED = "incident-opened"  # requestId is the incident's id
    INCIDENT_CLOSED = "incident-closed"


class Event(_Strict):
    """What requesting systems read from the events queue."""

    version: Literal[1] = Field(default=1, alias="v")
    kind: EventKind
    request_id: str = Field(alias="requestId")
    offer: str | None = None
    stage: Stage | None = None
    submission_id: str | None = Field(default=None, alias="submissionId")
    product_id: str | None = Field(default=None, alias="productId")
    release_id: str | None = Field(default=None, alias="releaseId")
    reason: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    at: str
    trimmed: bool | None = None  # the reason or labels were cut to fit a queue message

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=True)
