"""Azure Table storage plumbing the ledger needs: text that always fits a property, long text
in parts, and a table client that survives its table being deleted."""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient

from shared.redaction import scrub

_PART = 30_000
# Plain text properties (reasons, errors) are capped: a row always fits Table storage's limits
# (64 KiB a property, 1 MiB an entity) whatever a stage or Partner Center said.
_TEXT_LIMIT = 8_000


def capped(value: Any) -> Any:
    """Text as stored: no live secret (shared.redaction), at most `_TEXT_LIMIT` characters."""
    if not isinstance(value, str):
        return value
    value = scrub(value)
    if len(value) > _TEXT_LIMIT:
        return value[: _TEXT_LIMIT - 14] + " ... (trimmed)"
    return value


def split_text(name: str, text: str) -> dict[str, str]:
    """A long text as `name`, `name__1`, ...: a property holds 32K UTF-16 characters."""
    return {
        (f"{name}__{i // _PART}" if i else name): text[i : i + _PART]
        for i in range(0, max(len(text), 1), _PART)
    }


def join_text(raw: dict[str, Any], name: str) -> str:
    parts = [raw.get(name) or ""]
    i = 1
    while f"{name}__{i}" in raw:
        parts.append(raw[f"{name}__{i}"])
        i += 1
    return "".join(parts)


class Recreating:
    """A TableClient whose calls recreate the table once when it is gone (TableNotFound);
    queries are read whole, so the error cannot surface later during iteration."""

    def __init__(self, client: TableClient, recreate: Any) -> None:
        self._client, self._recreate = client, recreate

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if not callable(method):
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            for attempt in (1, 2):
                try:
                    result = method(*args, **kwargs)
                    return list(result) if name.startswith(("query_", "list_")) else result
                except ResourceNotFoundError as exc:
                    if attempt == 2 or getattr(exc, "error_code", None) != "TableNotFound":
                        raise
                    self._recreate()
            raise AssertionError("unreachable")

        return call
