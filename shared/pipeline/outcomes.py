"""What a stage decides. Stages return one of these; shared.pipeline.effects carries it out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.messages import EventKind, Stage


@dataclass(frozen=True, kw_only=True)
class Patch:
    """Facts a stage learned about the run, to be recorded in the ledger."""

    product_id: str | None = None
    submission_id: str | None = None
    baseline_submission_id: str | None = None
    pc_status: str | None = None
    offer_type: str | None = None
    plans: dict[str, str] | None = None
    plan_types: dict[str, str] | None = None
    packages: dict[str, str] | None = None
    changed_modules: list[str] | None = None
    plan: dict[str, Any] | None = None
    export: str | None = None
    planned_modules: list[str] | None = None
    intents: dict[str, dict[str, str]] | None = None
    held_seconds: float | None = None
    blocked_by: list[str] | None = None


@dataclass(frozen=True, kw_only=True)
class Advance:
    """Hand the run to the next queue-triggered stage now."""

    to: Stage
    patch: Patch = field(default_factory=Patch)


@dataclass(frozen=True, kw_only=True)
class Wait:
    """Park the run; the poller runs `check` again after `delay_seconds`."""

    check: Stage
    delay_seconds: float
    reason: str = ""
    patch: Patch = field(default_factory=Patch)
    event: EventKind | None = None  # announce this wait (an approval reminder)
    # The check is aimed at where answers of its kind came (StageDeps.next_poll): sent by the
    # write that sets it when a tick might send it late (shared.pipeline.sends).
    aimed: bool = False


@dataclass(frozen=True, kw_only=True)
class Finished:
    patch: Patch = field(default_factory=Patch)
    # The run ends at this stage, passed through at once: the check that reads the final
    # state ends the run, rather than handing it to a stage that would only record the end.
    at: Stage | None = None
    unchanged: bool = False  # onlyChanged and nothing to change: no submission was made
    planned: bool = False  # target plan: the plan is recorded, nothing was written
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class Failed:
    """A business failure: recorded with its reason, never redelivered."""

    reason: str
    rejected: bool = False  # the request can never succeed (unknown offer or plan)
    cancelled: bool = False  # the submission was cancelled, not failed
    patch: Patch = field(default_factory=Patch)


@dataclass(frozen=True, kw_only=True)
class Retry:
    """A transient failure that outlasted the client's retries: run this stage again later.
    `trouble` False: no failure, the stage's work waits on Partner Center (files still
    processing), which is not announced however long it takes (shared.pipeline.trouble)."""

    delay_seconds: float
    reason: str
    trouble: bool = True


@dataclass(frozen=True, kw_only=True)
class Checkpoint:
    """Record `patch` now and run the stage again at once, before any further call: how a
    stage writes down what it is about to do (an intent, a plan of modules), so a crash after
    the call leaves a record that says what may have happened. `fresh` names the intent this
    very invocation just recorded (shared.pipeline.intents)."""

    patch: Patch
    fresh: tuple[str, ...] = ()
    memo: Any = None  # what the stage read, handed to its next invocation in this process


Outcome = Advance | Wait | Finished | Failed | Retry | Checkpoint
