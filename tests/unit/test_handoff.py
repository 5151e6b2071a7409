"""Hand-offs through output bindings: only the declared queues, only immediate sends, and
nothing at all when the function's work raised (the redelivery re-sends from the ledger)."""

from __future__ import annotations

import pytest

from shared import handoff
from shared.queues import QueueSender


class Binding:
    def __init__(self) -> None:
        self.sent: list[str] | None = None

    def set(self, val: list[str]) -> None:
        self.sent = val


class NoSdk:
    def __init__(self) -> None:
        self.sent: list[tuple[str, int | None]] = []

    def create_queue(self) -> None:
        pass

    def send_message(self, body: str, visibility_timeout: int | None, time_to_live: int) -> None:
        self.sent.append((body, visibility_timeout))


def test_immediate_sends_to_declared_queues_go_through_the_binding() -> None:
    sdk = NoSdk()
    queues = QueueSender(lambda name: sdk)  # type: ignore[arg-type,return-value]
    binding = Binding()
    with handoff.through({"pc-promote": binding}):
        queues.send("pc-promote", "a")
        queues.send("pc-promote", "b")
        queues.send("pc-promote", "later", delay_seconds=30)  # a delay: the SDK
        queues.send("pc-complete", "other")  # not declared: the SDK
    assert binding.sent == ["a", "b"]
    assert sdk.sent == [("later", 30), ("other", None)]


def test_nothing_is_handed_off_when_the_work_raises() -> None:
    binding = Binding()

    def stage() -> None:
        with handoff.through({"pc-promote": binding}):
            assert handoff.offer("pc-promote", "a")
            raise RuntimeError("a bug after the hand-off was recorded")

    with pytest.raises(RuntimeError):
        stage()
    assert binding.sent is None


def test_outside_a_function_nothing_is_taken() -> None:
    assert handoff.offer("pc-promote", "a") is False
