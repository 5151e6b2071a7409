"""Strict, bounded JSON for bodies from other systems.

Python's `json` takes a BOM-less UTF-16 body for garbage, keeps the last of two duplicate keys,
reads `NaN`, and recurses once per nesting level (a deep enough body raises RecursionError, not
ValueError). Here every such body is a `JsonRefused` with a short reason: the bytes are checked
for encoding and size, then one linear scan (no recursion) caps depth, keys and string lengths,
and only then does the parser run, refusing duplicate keys and non-finite numbers.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from dataclasses import dataclass
from typing import Any


class JsonRefused(ValueError):
    """The body is not strict, bounded UTF-8 JSON; the message says why, never what it holds."""


@dataclass(frozen=True, kw_only=True)
class Limits:
    max_bytes: int = 48 * 1024
    max_depth: int = 16
    max_keys: int = 2000  # object members and array items, counted across the whole body
    max_string: int = 30_000  # characters in one string (key or value), escapes counted raw


DEFAULT_LIMITS = Limits()

_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32LE"),
    (codecs.BOM_UTF32_BE, "UTF-32BE"),
    (codecs.BOM_UTF8, "UTF-8 with a byte-order mark"),
    (codecs.BOM_UTF16_LE, "UTF-16LE"),
    (codecs.BOM_UTF16_BE, "UTF-16BE"),
)


def _encoding_of(raw: bytes) -> str | None:
    """The name of a non-UTF-8 encoding the body is evidently in, if any (RFC 8259 §8.1:
    JSON text between systems is UTF-8 without a BOM; a NUL in the first bytes means a
    UTF-16/32 body without one)."""
    for bom, name in _BOMS:
        if raw.startswith(bom):
            return name
    head = raw[:4]
    if len(head) >= 4 and head[:3] == b"\0\0\0":
        return "UTF-32BE"
    if len(head) >= 4 and head[1:4] == b"\0\0\0":
        return "UTF-32LE"
    if len(head) >= 2 and head[0] == 0:
        return "UTF-16BE"
    if len(head) >= 2 and head[1] == 0:
        return "UTF-16LE"
    return None


def decode_text(raw: bytes, limits: Limits = DEFAULT_LIMITS) -> str:
    """Bytes -> text, refusing oversize bodies and anything but UTF-8."""
    if len(raw) > limits.max_bytes:
        raise JsonRefused(f"body is {len(raw)} bytes; the limit is {limits.max_bytes}")
    encoding = _encoding_of(raw)
    if encoding is not None:
        raise JsonRefused(f"body is {encoding}; send UTF-8 JSON without a byte-order mark")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonRefused(f"body is not valid UTF-8 (byte {exc.start})") from None


def scan(text: str, limits: Limits = DEFAULT_LIMITS) -> None:
    """One pass over the text, outside the parser: depth, members and string lengths."""
    depth = items = 0
    in_string = escaped = False
    string_start = 0
    for i, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
                if i - string_start > limits.max_string:
                    raise JsonRefused(
                        f"a string at character {string_start} is longer than "
                        f"{limits.max_string} characters"
                    )
            continue
        if ch == '"':
            in_string, string_start = True, i
        elif ch in "[{":
            depth += 1
            items += 1
            if depth > limits.max_depth:
                raise JsonRefused(f"body nests deeper than {limits.max_depth} levels")
        elif ch in "]}":
            depth -= 1
        elif ch == ",":
            items += 1
        if items > limits.max_keys:
            raise JsonRefused(f"body has more than {limits.max_keys} members and items")
    if in_string and len(text) - string_start > limits.max_string:
        raise JsonRefused(f"a string is longer than {limits.max_string} characters")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise JsonRefused(f"duplicate key {_short(key)!r} in one object")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise JsonRefused(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    """A JSON number as a float, refused when no float holds it (1e400): written again, it
    could only be `Infinity`, which no JSON encoder that keeps to the standard will write."""
    value = float(text)
    if math.isinf(value):
        raise JsonRefused("a number is out of range")
    return value


def _short(key: str) -> str:
    return key if len(key) <= 40 else key[:40] + "..."


def loads_strict(body: str | bytes, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Parse a body from another system, or raise JsonRefused with a bounded reason."""
    text = decode_text(body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body)
    scan(text, limits)
    try:
        data = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constant,
            parse_float=_finite,
        )
    except JsonRefused:
        raise
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise JsonRefused(f"not valid JSON: {exc.msg} at {where}") from None
    except (ValueError, RecursionError) as exc:  # e.g. a huge integer literal
        raise JsonRefused(f"not valid JSON: {type(exc).__name__}") from None
    _no_lone_surrogates(data)
    return data


# A lone surrogate can only come from a `\\u` escape: bodies without one need no walk.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


# Partner Center's own serializers (System.Text.Json, Json.NET) nest no deeper by default,
# on reading or on writing: an answer deeper than this is no answer of the service.
ANSWER_DEPTH = 64


def loads_answer(raw: bytes) -> Any:
    """Another service's JSON answer, of any size, or JsonRefused (a ValueError) when it
    holds what could not be written back or stored: `NaN`, an infinity (`1e400`), a lone
    surrogate, nesting past ANSWER_DEPTH. Python's `json` reads them all, and the write that
    carried them failed with a bug's error (httpx refuses non-finite numbers; UTF-8 has no
    lone surrogates; an answer 900 levels deep is read near the top of the stack, and its
    write back from a stage ran past the interpreter's recursion limit)."""
    data = json.loads(raw, parse_constant=_no_constant, parse_float=_finite)
    if raw.count(b"[") + raw.count(b"{") > ANSWER_DEPTH:  # else it cannot nest that deep
        _within_depth(data, ANSWER_DEPTH)
    if _SURROGATE_ESCAPE.search(raw):
        _no_lone_surrogates(data)
    return data


def _within_depth(data: Any, most: int) -> None:
    """JsonRefused when containers nest more than `most` levels (a walk, not a recursion)."""
    stack = [(data, 1)] if isinstance(data, dict | list) else []
    while stack:
        item, depth = stack.pop()
        if depth > most:
            raise JsonRefused(f"an answer nests deeper than {most} levels")
        inner = item.values() if isinstance(item, dict) else item
        stack.extend((value, depth + 1) for value in inner if isinstance(value, dict | list))


def _no_lone_surrogates(data: Any) -> None:
    """`"\\ud800"` is valid JSON but no Unicode text: it would fail later, when written."""
    stack = [data]
    while stack:
        item = stack.pop()
        texts: list[Any] = []
        if isinstance(item, str):
            texts = [item]
        elif isinstance(item, dict):
            texts = list(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        for text in texts:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise JsonRefused("a string holds a lone UTF-16 surrogate escape") from None
