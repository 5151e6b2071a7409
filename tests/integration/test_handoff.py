"""Hand-offs through output bindings, on Azurite: only the declared queues, only immediate
sends (a delayed one, or another queue, goes through the SDK to the real queue), and nothing
at all when the function's work raised (the redelivery re-sends from the ledger)."""

from __future__ import annotations

import uuid

import pytest

from pcpub.azurite import AzuritePorts
from shared import handoff
from shared.queues import QueueSender
from shared.settings import Settings
from shared.storage import queue_client


class Binding:
    def __init__(self) -> None:
        self.sent: list[str] | None = None

    def set(self, val: list[str]) -> None:
        self.sent = val


def test_immediate_sends_to_declared_queues_go_through_the_binding(
    settings: Settings, azurite: AzuritePorts
) -> None:
    queues = QueueSender(lambda name: queue_client(settings, name))
    bound, other = f"bound-{uuid.uuid4().hex[:8]}", f"other-{uuid.uuid4().hex[:8]}"
    binding = Binding()
    with handoff.through({bound: binding}):
        queues.send(bound, "a")
        queues.send(bound, "b")
        queues.send(bound, "later", delay_seconds=30)  # a delay: the SDK, out of sight
        queues.send(other, "elsewhere")  # not declared: the SDK
    assert binding.sent == ["a", "b"]
    delayed = queues.client(bound).get_queue_properties().approximate_message_count
    assert delayed == 1 and list(queues.client(bound).peek_messages()) == []
    [message] = queues.client(other).peek_messages()
    assert message.content == b"elsewhere"


def test_nothing_is_handed_off_when_the_work_raises() -> None:
    binding = Binding()

    def stage() -> None:
        with handoff.through({"pc-promote": binding}):
            assert handoff.offer("pc-promote", "a")
            raise RuntimeError("a bug after the hand-off was recorded")

    with pytest.raises(RuntimeError):
        stage()
    assert binding.sent is None
    assert handoff.offer("pc-promote", "a") is False  # outside a function: nothing taken
