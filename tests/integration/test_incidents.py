"""The incident breaker on real storage: opened by the same failure across offers, one probe
at a time, closed by a normal answer; errors a request can cause never count."""

from __future__ import annotations

from datetime import timedelta

from pcpub.ops import Storage, incident_line, open_incident
from shared.incidents import BreakerPolicy, Incidents, signature
from shared.ledger import now_utc
from shared.partnercenter.errors import BadRequest, Conflict, ServerError
from shared.pipeline.effects import Pipeline
from shared.settings import Settings


def regression(path: str = "products/1") -> BadRequest:
    return BadRequest(
        400,
        '{"errors":{"x-ms-publisherId":["PublisherId is a required header"]}}',
        method="GET",
        path=path,
        request_id="r",
        client_request_id="c",
    )


def test_signatures_speak_of_the_service_not_the_request() -> None:
    assert signature(regression("products/1")) == signature(regression("products/2"))
    posted = BadRequest(
        400, "title too long", method="PUT", path="x", request_id=None, client_request_id=None
    )
    assert signature(posted) is None  # a write can be the request's fault
    busy = Conflict(409, "busy", method="POST", path="x", request_id=None, client_request_id=None)
    assert signature(busy) is None
    assert (
        signature(
            ServerError(503, "", method="GET", path="x", request_id=None, client_request_id=None)
        )
        == "5xx"
    )


def test_the_breaker_opens_holds_probes_once_and_closes(pipeline: Pipeline) -> None:
    incidents = Incidents(pipeline.ledger, BreakerPolicy(threshold=3, first_probe_seconds=10))
    incidents.clear()
    now = now_utc()
    assert incidents.observe(now, "offer:a", regression()) is None
    assert incidents.observe(now, "offer:a", regression()) is None  # the same offer again
    assert incidents.observe(now, "offer:b", regression()) is None
    opened = incidents.observe(now, "offer:c", regression())
    assert opened is not None and opened.open
    assert "x-ms-publisherId" in opened.message
    held = incidents.hold(now + timedelta(seconds=1))
    assert held is not None and 9 <= held[1] <= 11
    later = now + timedelta(seconds=11)
    assert incidents.hold(later) is None  # this one is the probe
    again = incidents.hold(later)  # every other delivery still waits, longer now
    assert again is not None and again[1] >= 19
    closed = incidents.close(later)
    assert closed is not None and closed.incident == opened.incident
    assert incidents.hold(later) is None and not incidents.read().open
    incidents.clear()


def test_failures_outside_the_window_do_not_add_up(pipeline: Pipeline) -> None:
    incidents = Incidents(pipeline.ledger, BreakerPolicy(threshold=2, window_seconds=60))
    incidents.clear()
    start = now_utc()
    assert incidents.observe(start, "offer:a", regression()) is None
    assert incidents.observe(start + timedelta(seconds=90), "offer:b", regression()) is None
    assert not incidents.read().open
    incidents.clear()


def test_pcpub_status_shows_an_open_incident(pipeline: Pipeline, settings: Settings) -> None:
    incidents = Incidents(pipeline.ledger, BreakerPolicy(threshold=1))
    incidents.clear()
    storage = Storage(settings.storage_connection)
    assert open_incident(storage) is None
    incidents.observe(now_utc(), "offer:a", regression())
    shown = open_incident(storage)
    assert shown is not None
    assert "every run is held" in incident_line(shown)
    assert "x-ms-publisherId" in incident_line(shown)
    incidents.clear()
