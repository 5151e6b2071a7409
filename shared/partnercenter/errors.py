"""Typed errors of the Partner Center client.

    PartnerCenterError
    ├── TransportError          connection failed, reset or timed out (after retries)
    ├── MalformedAnswer         a 2xx whose body is empty, not JSON or of another shape
    ├── UnsafePath              (paths.py) a request that would leave the API; never sent
    └── StatusError             the service answered with an error status
        ├── BadRequest          400
        ├── Unauthorized        401 (after one token refresh)
        ├── Forbidden           403
        ├── NotFound            404
        ├── Conflict            409 (.running_submission_id when the body names one)
        ├── PreconditionFailed  412 (stale ETag)
        ├── Throttled           429 (.retry_after seconds, when sent)
        └── ServerError         5xx

Every error carries what an operator needs to find the call in Partner Center's logs (status,
request id, client request id) and the service's own message, and never a token.
"""

from __future__ import annotations

import json
import re
import time

from shared.wording import one_line


class PartnerCenterError(Exception):
    """A call to Partner Center failed."""

    transient = False
    retry_after: float | None = None

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        path: str = "",
        client_request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.method = method
        self.path = path
        self.client_request_id = client_request_id
        self.at = time.monotonic()  # when it came: a Retry-After counts from here


class TransportError(PartnerCenterError):
    """Partner Center could not be reached, or the connection broke."""

    transient = True


class BudgetExhausted(PartnerCenterError):
    """The tenant's call budget had no room within the wait a delivery may spend on it: the
    stage is retried later (a delivery never outlives its claim waiting for the budget)."""

    transient = True


class ClaimLost(PartnerCenterError):
    """Another delivery took over this stage (this one outlived its claim): the call was not
    sent; this delivery stops, and the other carries on."""

    transient = True


class MalformedAnswer(PartnerCenterError):
    """A 2xx whose body is not what the operation returns (empty, truncated, not JSON, another
    shape): the call may well have done its work, so it is transient and reconciled, never a
    bug that poisons the message."""

    transient = True


class UploadRefused(PartnerCenterError):
    """An answer asked for a file to be uploaded somewhere it may not go (an upload URI off
    PC_UPLOAD_ORIGINS): nothing was sent, and asking again would not move it."""


class StatusError(PartnerCenterError):
    """Partner Center answered with an error status."""

    def __init__(
        self,
        status: int,
        service_message: str,
        *,
        method: str,
        path: str,
        request_id: str | None,
        client_request_id: str | None,
        retry_after: float | None = None,
        correlation_id: str | None = None,
    ) -> None:
        text = f"{method} {path} -> {status}"
        if service_message:
            text += f": {service_message}"
        if request_id:
            text += f" (Request-ID {request_id}"
            text += f", ms-correlation-x {correlation_id})" if correlation_id else ")"
        super().__init__(text, method=method, path=path, client_request_id=client_request_id)
        self.status = status
        self.service_message = service_message
        self.request_id = request_id
        self.correlation_id = correlation_id
        self.retry_after = retry_after


class BadRequest(StatusError):
    """400: the request was refused as malformed or invalid."""


class Unauthorized(StatusError):
    """401: the token was refused."""


class Forbidden(StatusError):
    """403: the app has no access to this account or product."""


class NotFound(StatusError):
    """404: no such resource."""


class Conflict(StatusError):
    """409: the resource is busy, e.g. another submission is in flight."""

    @property
    def running_submission_id(self) -> str | None:
        match = re.search(r"submission\D{0,20}(\d{6,})", self.service_message, re.IGNORECASE)
        return match.group(1) if match else None


class PreconditionFailed(StatusError):
    """412: the If-Match ETag is stale."""


class Throttled(StatusError):
    """429: too many requests."""

    transient = True


class ServerError(StatusError):
    """5xx: Partner Center failed."""

    transient = True


_BY_STATUS: dict[int, type[StatusError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    412: PreconditionFailed,
    429: Throttled,
}


def error_class(status: int) -> type[StatusError]:
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, StatusError)


def service_message(body: bytes) -> str:
    """The service's message from an error body (a JSON string, a JSON object, text or
    nothing), as one line: it becomes a run's reason, shown in tables and terminals."""
    text = one_line(_message(body))[:2000]
    return text.encode("utf-8", "replace").decode("utf-8")  # a lone surrogate: UTF-8 has none


def _message(body: bytes) -> str:
    if not body:
        return ""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth
        return body[:8000].decode("utf-8", "replace")
    if isinstance(data, str):
        return data[:8000]
    if isinstance(data, dict):
        lowered = {str(k).lower(): v for k, v in data.items()}
        for key in ("message", "error_description", "error", "code"):
            value = lowered.get(key)
            if isinstance(value, str) and value:
                code = lowered.get("code")
                prefix = f"{code}: " if isinstance(code, str) and key == "message" else ""
                return (prefix + value)[:8000]
            if isinstance(value, dict):
                return _message(json.dumps(value).encode())
    return json.dumps(data)[:8000]
