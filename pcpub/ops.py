"""What operators and other systems do with a running pc-publisher: send a publish request,
read a run's timeline, list runs (the poison queues: pcpub.poison)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from azure.core.exceptions import HttpResponseError
from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueClient

from shared.incidents import Incidents
from shared.ledger import Ledger, Run, RunStatus, now_utc, parse_stamp, stamp
from shared.pipeline.learned_waits import LEARNED
from shared.publish_request import PublishRequest, RequestRejected
from shared.queues import (
    PUBLISH_REQUESTS,
    QueueSender,
    queue_client_kwargs,
)
from shared.release_request import parse_request
from shared.request_ids import id_taken, refused_at_intake
from shared.settings import ENV, Settings
from shared.storage import transport_options
from shared.wait_history import Span, WaitHistory, kind_of
from shared.wording import one_line


class Storage:
    """The pipeline's queues and ledger: by connection string (Azurite, or an account with
    keys), or by account name with the operator's Entra identity (accounts with shared keys
    off, as infra/ deploys them)."""

    def __init__(self, connection_string: str | None = None, *, account: str | None = None) -> None:
        self.connection_string = connection_string
        self._credential: Any = None
        if connection_string:
            tables = TableServiceClient.from_connection_string(
                connection_string, **transport_options()
            )
        else:
            assert account, "give a connection string or an account name"
            # An account name, or any of its endpoint URLs.
            account = re.sub(r"^https://([^.]+)\..*$", r"\1", account.strip())
            self._credential = operator_credential()
            self._queue_url = f"https://{account}.queue.core.windows.net"
            tables = TableServiceClient(
                f"https://{account}.table.core.windows.net",
                credential=self._credential,
                **transport_options(),
            )
        self.ledger = Ledger(tables)
        self.sender = QueueSender(self.queue)

    def queue(self, name: str, *, raw: bool = False) -> QueueClient:
        """A client speaking the host's base64 encoding, or (raw) the stored content as is."""
        policies = {**({} if raw else queue_client_kwargs()), **transport_options(), **_retry()}
        if self.connection_string:
            return QueueClient.from_connection_string(self.connection_string, name, **policies)
        return QueueClient(self._queue_url, name, credential=self._credential, **policies)

    def read_blob(self, location: str) -> bytes:
        """A blob of the app's storage, by `container/name` (an export's location)."""
        from azure.storage.blob import BlobClient

        container, name = location.split("/", 1)
        if self.connection_string:
            client = BlobClient.from_connection_string(
                self.connection_string, container, name, **_retry()
            )
        else:
            url = self._queue_url.replace(".queue.", ".blob.")
            client = BlobClient(url, container, name, credential=self._credential, **_retry())
        with client:
            return bytes(client.download_blob().readall())


def _retry() -> dict[str, Any]:
    """An operator hears within seconds that storage is out of reach: the queue and blob SDKs'
    own retries (15 s, then longer, three times) kept a command silent for 86 s."""
    from azure.storage.queue import ExponentialRetry

    return {"retry_policy": ExponentialRetry(initial_backoff=1, increment_base=2, retry_total=2)}


def operator_credential() -> Any:
    """The operator's own sign-in (Azure CLI, environment, ...). The managed-identity probe
    of the metadata address is left out unless this runs in Azure."""
    from azure.identity import DefaultAzureCredential

    from shared.vault import running_in_azure

    return DefaultAzureCredential(exclude_managed_identity_credential=not running_in_azure())


def enqueue(storage: Storage, body: bytes | str) -> PublishRequest:
    """Validate locally (so the sender hears of mistakes at once), then send exactly the bytes
    that were validated (intake sees what was checked here, not a re-serialisation)."""
    return send_request(storage, body)[0]


def send_request(storage: Storage, body: bytes | str) -> tuple[PublishRequest, Run | None]:
    """`enqueue`, and the run this very request opened before, if it was sent before (the
    service counts this copy a duplicate: nothing new runs)."""
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    request = parse_request(raw)
    if not isinstance(request, PublishRequest):
        raise RequestRejected(
            "this is a release, not a single publish request (pcpub release send)",
            request.release_id,
        )
    taken = readable(lambda: storage.ledger.get(request.request_id))
    if taken is not None and refused_at_intake(taken):
        taken = None  # a refused request spends no id: this one takes its place
    if taken is not None and (reason := id_taken(taken, request.fingerprint())):
        raise RequestRejected(f"{reason} (its run is {taken.status})", request.request_id)
    storage.sender.send(PUBLISH_REQUESTS, raw.decode("utf-8"))
    return request, taken


T = TypeVar("T")


def readable(read: Callable[[], T]) -> T | None:
    """What `read` reads from the ledger before a send, or None when this identity may only
    send (a producer given the queue sender's role and no table's): the service would refuse
    a request whose id another request holds only after the send, in an event, and a sender
    following that id would read the other request's run as its own."""
    try:
        return read()
    except HttpResponseError as exc:
        if exc.status_code == 403:
            return None
        raise


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ"
    return (datetime.strptime(end, fmt) - datetime.strptime(start, fmt)).total_seconds()


def usual_wait(storage: Storage, run: Run) -> Span | None:
    """How long waits like the one `run` is in usually take (shared.wait_history), or None:
    it is not waiting on Partner Center, or too few such waits were seen."""
    if run.status is not RunStatus.WAITING or run.stage not in LEARNED:
        return None
    return WaitHistory(storage.ledger.table).span(kind_of(run.offer_type, run.stage))


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.1f} s"


def status_dict(run: Run, usual: Span | None = None) -> dict[str, Any]:
    return {
        "requestId": run.run_id,
        "status": str(run.status),
        "stage": run.stage,
        "offer": run.offer,
        "offerType": run.offer_type or None,
        "release": run.release_id or None,
        "goLive": run.go_live,
        "notBefore": run.not_before,
        "approval": run.approval or None,
        "cancel": run.cancel or None,
        "target": run.target,
        "productId": run.product_id,
        "submissionId": run.submission_id,
        "partnerCenterState": run.pc_status,
        "reason": run.reason,
        "lastError": run.last_error,
        "troubledSince": run.troubled_since,
        "deadLetter": run.dead_letter,
        "changedModules": run.changed_modules,
        "packages": run.packages,
        "createdAt": run.created_at,
        "updatedAt": run.updated_at,
        "nextCheckAt": run.next_check_at,
        "usualWait": ({"shortestSeconds": usual[0], "longestSeconds": usual[1]} if usual else None),
        "labels": run.labels,
        "callsMade": sum(s.calls for s in run.timeline),
        "timeline": [
            {
                "stage": s.stage,
                "started": s.started,
                "ended": s.ended,
                "seconds": _seconds(s.started, s.ended),
                "calls": s.calls,
                "result": s.result,
            }
            for s in run.timeline
        ],
    }


def format_status(run: Run, now: datetime | None = None, usual: Span | None = None) -> str:
    data = status_dict(run, usual)
    lines = [
        f"{data['requestId']}: {data['status']} at {data['stage']}"
        f" (offer {data['offer'] or '?'}, target {data['target'] or '?'})"
    ]
    if data["offerType"]:
        lines.append(f"  offer type: {data['offerType']}")
    if data["release"]:
        lines.append(f"  release: {data['release']}")
    if data["approval"]:
        a = data["approval"]
        lines.append(f"  go-live {a['state']} by {a['by']} at {a['at']}")
    if data["cancel"]:
        lines.append(f"  cancel asked by {data['cancel']['by']} at {data['cancel']['at']}")
    if data["submissionId"]:
        lines.append(f"  submission {data['submissionId']}: {data['partnerCenterState']}")
    if data["reason"]:
        lines.append(f"  reason: {data['reason']}")
    if data["troubledSince"]:  # retried since then, less and less often
        lines.append(f"  in trouble since {data['troubledSince']}: retried, less and less often")
    if data["deadLetter"]:
        lines.append(f"  dead-lettered: {data['deadLetter']} (pcpub poison redrive)")
    elif data["lastError"]:
        lines.append(f"  last error: {data['lastError']}")
    if data["changedModules"]:
        lines.append(f"  changed modules: {', '.join(data['changedModules'])}")
    if delivery := delivery_line(run, now or now_utc()):
        lines.append(f"  {delivery}")
    if usual is not None and run.timeline and run.timeline[-1].ended is None:
        waited = ((now or now_utc()) - parse_stamp(run.timeline[-1].started)).total_seconds()
        lines.append(
            f"  waited {_duration(waited)}; waits like this usually end after "
            f"{_duration(usual[0])} to {_duration(usual[1])} (next check {run.next_check_at})"
        )
    for step in data["timeline"]:
        took = f"{step['seconds']:.2f}s" if step["seconds"] is not None else "running"
        lines.append(
            f"  {step['stage']:<15} {took:>9}  {step['calls']:>3} calls  {step['result'] or ''}"
        )
    lines.append(f"  Partner Center calls: {data['callsMade']}")
    return "\n".join(map(one_line, lines))  # reasons from the service: one line each


# The Functions host keeps a message it is processing invisible this long (renewing it while
# the function runs); a stopped instance's message comes back after it.
MESSAGE_LEASE_SECONDS = 600


def _seconds_setting(field: str) -> float:
    """The app's setting as the operator's environment has it, or the app's default."""
    value = os.environ.get(ENV[field])
    return float(value) if value else float(Settings.model_fields[field].default)


def delivery_line(run: Run, now: datetime) -> str | None:
    """Where a running run's message is: being worked on, queued, or held by an instance that
    may have stopped (then it waits for the message lease to run out, and the stall sweep's
    window, longer than that lease, is the latest it is re-driven)."""
    if run.status is not RunStatus.RUNNING or run.dead_letter:
        return None
    stall, claim = _seconds_setting("stall_seconds"), _seconds_setting("claim_seconds")
    swept = stamp(parse_stamp(run.updated_at) + timedelta(seconds=stall))
    if run.claimed_stage != run.stage or not run.claimed_at:
        return f"queued for {run.stage}; re-driven by the poller at {swept} if not picked up"
    claimed = parse_stamp(run.claimed_at)
    age = (now - claimed).total_seconds()
    if age < claim:
        return f"being worked on since {run.claimed_at} ({age:.0f} s)"
    lease = stamp(claimed + timedelta(seconds=MESSAGE_LEASE_SECONDS))
    return (
        f"its delivery started {run.claimed_at} has not finished: if that instance stopped, its "
        f"message comes back when the message lease runs out (by {lease}); the poller re-drives "
        f"the run at {swept} at the latest"
    )


def open_incident(storage: Storage) -> dict[str, Any] | None:
    """The open Partner Center incident that holds every run, if there is one."""
    breaker = Incidents(storage.ledger).read()
    return Incidents.describe(breaker) if breaker.open else None


def incident_line(incident: dict[str, Any]) -> str:
    return (
        f"INCIDENT {incident['incident']} (since {incident['since']}; next probe "
        f"{incident['nextProbeAt']}): every run is held. {incident['message']}"
    )


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2)


def no_run(storage: Storage, run_id: str, instead: str) -> str:
    """What to say of an id with no run: when it names a release, the command for that."""
    from shared.releases import Releases

    if Releases(storage.ledger).get(run_id) is not None:
        return f"pcpub: {run_id} is a release, not a run: {instead.format(run_id)}"
    return f"pcpub: no run {run_id}"
