from __future__ import annotations

import pytest

from shared.partnercenter.models import Submission
from shared.partnercenter.status import Phase, in_flight, phase_of


@pytest.mark.parametrize(
    ("state", "substate", "pending", "phase"),
    [
        ("InProgress", "InDraft", "Running", Phase.RUNNING),
        ("InProgress", "InDraft", "Failed", Phase.FAILED),
        ("InProgress", "Submitted", "Completed", Phase.RUNNING),
        ("InProgress", "Failed", "Completed", Phase.FAILED),
        ("InProgress", "FailedInCertification", "Completed", Phase.FAILED),
        ("Published", "ReadyToPublish", "Completed", Phase.PREVIEW_READY),
        ("Published", "Publishing", "Running", Phase.PUBLISHING),
        ("Published", "Published", "Running", Phase.PUBLISHING),
        ("Published", "InStore", "Completed", Phase.LIVE),
        ("published", "instore", "completed", Phase.LIVE),
    ],
)
def test_phase(state: str, substate: str, pending: str, phase: Phase) -> None:
    sub = Submission.model_validate(
        {"id": "1", "State": state, "subState": substate, "pendingUpdateInfo": {"status": pending}}
    )
    assert phase_of(sub) is phase
    assert in_flight(sub) == (phase in (Phase.RUNNING, Phase.PUBLISHING))
