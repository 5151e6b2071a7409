"""The rules every part of a publish request follows: strict, bounded types, no nulls, and
Partner Center's own identifier forms (shared.publish_request says why)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from shared.strictjson import Limits

# A queue message is at most 64 KiB encoded; base64 leaves 48 KiB of payload.
MAX_REQUEST_BYTES = 48 * 1024
LIMITS = Limits(max_bytes=MAX_REQUEST_BYTES, max_depth=12, max_keys=2000, max_string=40_000)
MAX_REASON = 2000
REQUEST_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$"
GUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
# Partner Center's offer and plan ids: 3-50 lowercase letters, digits, '-' and '_'.
EXTERNAL_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{2,49}$"
# A listing language as Partner Center spells it: "en-us", "de-de", "zh-hant".
LANGUAGE_PATTERN = r"^[a-z]{2,3}(-[a-z0-9]{2,8}){0,2}$"
# Path segments that cannot be '.', '..', empty, absolute or use backslashes.
STAGED_PATTERN = r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}(/[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}){0,9}$"
# https, a host name (no user:password@), an optional port, no fragment or backslash.
URL_PATTERN = r"^https://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?(/[^\s#\\]*)?$"
# A blob's URL, as above with a container and a blob name in its path (and a SAS after '?').
BLOB_URL_PATTERN = (
    r"^https://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?/[^/?\s#\\]+/+[^/?\s#\\][^?\s#\\]*(\?[^\s#\\]*)?$"
)
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
# Text of several lines (a description, terms): tabs and line breaks, no other control characters.
TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
# A UTC time, ISO 8601 with the Z: 2026-12-01T09:00Z, 2026-12-01T09:00:00.5Z.
UTC_TIME_PATTERN = (
    r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d"
    r"(:[0-5]\d(\.\d{1,6})?)?Z$"
)


class Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, strict=True)

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            nulls = sorted(str(k)[:40] for k, v in data.items() if v is None)
            if nulls:
                raise ValueError(f"null is not a value (leave the field out): {', '.join(nulls)}")
        return data


def exactly_one(*names: str) -> dict[str, Any]:
    """JSON Schema for the model validators' 'give exactly one of ...' rule."""
    return {"oneOf": [{"required": [n]} for n in names]}
