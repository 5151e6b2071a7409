"""What a run remembers for later runs of its offer (its product, its submissions) is an
upsert of the same facts: a write whose answer was lost is sent again, and a write that
cannot be made is a warning, never the run's failure."""

from __future__ import annotations

import logging

import pytest
from azure.core.exceptions import ServiceRequestError, ServiceResponseError

from shared.pipeline.effects import _remember


class Flaky:
    """A ledger write that fails its first `failures` calls with `error`."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures = failures
        self.error = error
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, *facts: str) -> None:
        self.calls.append(facts)
        if len(self.calls) <= self.failures:
            raise self.error


def test_a_write_whose_answer_was_lost_is_sent_again(caplog: pytest.LogCaptureFixture) -> None:
    write = Flaky(1, ServiceResponseError("Connection reset by peer"))
    _remember(write, "product", "submission", "run")
    assert write.calls == [("product", "submission", "run")] * 2
    assert "remember_failed" not in [getattr(r, "action", "") for r in caplog.records]


@pytest.mark.parametrize(
    ("failures", "error", "calls"),
    [
        (2, ServiceResponseError("reset again"), 2),  # once more, not on and on
        (1, ServiceRequestError("refused"), 1),  # the SDK's own retries were spent on it
        (1, ValueError("anything else"), 1),
    ],
)
def test_a_write_that_cannot_be_made_is_a_warning(
    caplog: pytest.LogCaptureFixture, failures: int, error: Exception, calls: int
) -> None:
    write = Flaky(failures, error)
    with caplog.at_level(logging.WARNING):
        _remember(write, "offer", "product")
    assert len(write.calls) == calls
    [record] = [r for r in caplog.records if getattr(r, "action", "") == "remember_failed"]
    assert record.levelno == logging.WARNING
