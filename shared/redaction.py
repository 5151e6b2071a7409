"""Secrets never leave the process in text: one registry of live secret values, one scrubber.

The credential providers register every secret they read and every token they obtain; intake
refuses a request that carries one; and every text that leaves the process — log records (of
any logger, through the record factory), ledger reasons, events, dead letters — passes through
`scrub`. Patterns catch what the registry cannot know (another app's token, a SAS signature).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import Any

MASK = "***"
_MIN_LENGTH = 8  # shorter values would mask ordinary words
_lock = threading.Lock()
_secrets: set[str] = set()
_installed = False

_PATTERNS = (
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{16,}"), r"\1" + MASK),
    (re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"), MASK),
    (re.compile(r"(?i)([?&]sig=)[^&\s\"']+"), r"\1" + MASK),
    (re.compile(r"(?i)(client_secret[\"']?\s*[:=]\s*[\"']?)[^&\s\"',}]+"), r"\1" + MASK),
)
_LOOKS_SECRET = (
    re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\."),  # a JWT
    re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]{16,}"),
    re.compile(r"[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34}"),  # an Entra client secret
)


def register(*values: str | None) -> None:
    """Remember live secret values (client secrets, tokens) so no text can carry them."""
    with _lock:
        _secrets.update(v for v in values if v and len(v) >= _MIN_LENGTH)


def forget_all() -> None:
    """For tests: start from an empty registry."""
    with _lock:
        _secrets.clear()


# What each pattern needs to find anything: a text with none of these is left to the registry
# (every log record is scrubbed, and running the patterns over each was a busy host's 2%).
_CUES = ("bearer", "eyj", "sig=", "client_secret")


def scrub(text: str) -> str:
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for value in known:
        if value in text:
            text = text.replace(value, MASK)
    folded = text.lower()
    if any(cue in folded for cue in _CUES):
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
    return text


def carries_secret(texts: Iterable[str]) -> bool:
    """True when any text holds a registered secret or something shaped like a credential."""
    with _lock:
        known = list(_secrets)
    for text in texts:
        if any(value in text for value in known):
            return True
        if any(pattern.search(text) for pattern in _LOOKS_SECRET):
            return True
    return False


def strings_in(data: Any) -> Iterable[str]:
    """Every key and string value of parsed JSON (bounded by intake's depth cap)."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            yield from (k for k in item if isinstance(k, str))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def install() -> None:
    """Scrub every log record when it is made, whichever logger and handler it goes to (the
    Functions worker's handler included): message, arguments, extras and exception text."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            record.msg = scrub(record.getMessage())
            record.args = None
        except Exception:  # a broken format string must not lose the record
            record.msg, record.args = scrub(str(record.msg)), None
        if record.exc_info and not record.exc_text:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)
