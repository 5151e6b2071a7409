"""Client for the Partner Center submission (ingestion) API, v1.0."""

from shared.partnercenter.client import PartnerCenterClient
from shared.partnercenter.errors import (
    Conflict,
    NotFound,
    PartnerCenterError,
    PreconditionFailed,
    ServerError,
    StatusError,
    Throttled,
    TransportError,
    Unauthorized,
)

__all__ = [
    "Conflict",
    "NotFound",
    "PartnerCenterClient",
    "PartnerCenterError",
    "PreconditionFailed",
    "ServerError",
    "StatusError",
    "Throttled",
    "TransportError",
    "Unauthorized",
]
