"""A submission and its clock-driven state machine, in the observed sequence:
    InProgress/InDraft -> InProgress/Submitted -> Published/ReadyToPublish (preview)
    -- promote --> Published/Publishing -> Published/InStore (live)
with the workflow details (a Preview and a Live flow from the start), validations and reports
the service answers for it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pcsim.timing import NEVER, Profile, iso


@dataclass
class Submission:
    id: str
    product_id: str
    created: float
    request: dict[str, Any]
    release_number: int
    promoted: float | None = None
    fail_certification: bool = False
    certify_forever: bool = False  # certification that never ends (a stuck review)
    certify_seconds: float | None = None  # this offer's own, else the timing profile's
    validation_errors: list[dict[str, Any]] = field(default_factory=list)

    def certify(self, profile: Profile) -> float:
        """How long this submission's certification takes."""
        return profile.certify if self.certify_seconds is None else self.certify_seconds

    def end_certification(self, now: float, profile: Profile) -> None:
        """Certification over at `now` (if it was still going)."""
        self.certify_forever = False
        self.certify_seconds = min(
            self.certify(profile), max(0.0, now - self.created - profile.accept)
        )

    def status(self, now: float, profile: Profile) -> tuple[str, str, dict[str, Any]]:
        """(state, substate, pendingUpdateInfo) at `now`."""
        age = now - self.created
        if self.validation_errors:
            failed = _pending("Create", "Failed")
            failed["failureReason"] = "Active validation errors"
            return "InProgress", "InDraft", failed
        if self.promoted is not None:
            if now - self.promoted >= profile.publish:
                return "Published", "InStore", _pending("Promote", "Completed")
            return "Published", "Publishing", _pending("Promote", "Running")
        if age < profile.accept:
            return "InProgress", "InDraft", _pending("Create", "Running")
        if age < profile.accept + self.certify(profile) or self.certify_forever:
            return "InProgress", "Submitted", _pending("Create", "Completed")
        if self.fail_certification:
            return "InProgress", "FailedInCertification", _pending("Create", "Completed")
        return "Published", "ReadyToPublish", _pending("Create", "Completed")

    def body(self, now: float, profile: Profile) -> dict[str, Any]:
        state, substate, pending = self.status(now, profile)
        published = (
            self.created + profile.accept + self.certify(profile) if state == "Published" else None
        )
        return {
            "resourceType": "Submission",
            "id": self.id,
            "state": state,
            "substate": substate,
            "targets": [{"type": "Scope", "value": "Preview"}],
            "resources": self.request.get("resources", []),
            "variantResources": self.request.get("variantResources", []),
            "publishedTimeInUtc": iso(published) if published else NEVER,
            "pendingUpdateInfo": {
                **pending,
                "href": (
                    f"v1.0/ingestion/products/{self.product_id}/submissions/{self.id}/validations"
                ),
            },
            "releaseNumber": self.release_number,
            "friendlyName": f"Submission {self.release_number}",
            "areResourcesReady": True,
            "extendedProperties": [],
        }

    def reports(self, now: float, profile: Profile, base_url: str) -> list[dict[str, Any]]:
        state, substate, _ = self.status(now, profile)
        if self.validation_errors:
            return []
        status = (
            "Failed"
            if substate == "FailedInCertification"
            else "Passed"
            if state == "Published"
            else "Pending"
        )
        return [
            {
                "reportTimeInUtc": iso(self.created + profile.accept),
                "status": status,
                "fileUri": f"{base_url}/_reports/{self.product_id}/{self.id}.pdf",
            }
        ]

    def workflow(self, now: float, profile: Profile) -> list[dict[str, Any]]:
        state, substate, _ = self.status(now, profile)
        if self.validation_errors:
            return []
        preview_done = state == "Published" or substate == "FailedInCertification"
        cert = (
            "Failed"
            if substate == "FailedInCertification"
            else "Success"
            if preview_done
            else "InProgress"
        )
        preview_end = self.created + profile.accept + self.certify(profile)
        flows = [
            {
                "type": "Push",
                "targetEnvironment": "Preview",
                "state": "Success" if state == "Published" else cert,
                "startDateTimeInUtc": iso(self.created),
                "completeDateTimeInUtc": iso(preview_end) if preview_done else NEVER,
                "workflowSteps": [
                    {"name": "Automated validation", "state": "Success"},
                    {"name": "Certification", "state": cert},
                    {
                        "name": "Preview Creation",
                        "state": "Success" if preview_done else "NotStarted",
                    },
                ],
            }
        ]
        # Live: the Live flow is listed from the start (clients expect exactly two entries).
        live = (
            "NotStarted"
            if self.promoted is None
            else "Success"
            if substate == "InStore"
            else "InProgress"
        )
        done = self.promoted is not None and substate == "InStore"
        flows.append(
            {
                "type": "Push",
                "targetEnvironment": "Live",
                "state": live,
                "startDateTimeInUtc": iso(self.promoted) if self.promoted else NEVER,
                "completeDateTimeInUtc": (
                    iso((self.promoted or 0) + profile.publish) if done else NEVER
                ),
                "workflowSteps": [
                    {
                        "name": "Publisher Signoff",
                        "state": "Success" if self.promoted else "NotStarted",
                    },
                    {"name": "Publish", "state": live},
                ],
            }
        )
        return flows


def _pending(update: str, status: str) -> dict[str, Any]:
    return {"updateType": update, "status": status}
