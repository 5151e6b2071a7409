"""What `pcpub` takes, checked before anything is read: a run can only have an id a request
could give it, and an offer only an offer id or a product GUID, so anything else (an empty
`--offer "$OFFER"`, a path, a key the table service refuses) is answered as a usage error
naming the rule, never read or written as if it were one; and a file that should hold a JSON
object (a request, a config, settings) is one line saying why it does not. Files are read no
further than a request could reach: `/dev/zero`, or a pipe that never ends, is refused as too
large rather than read until memory runs out."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from pcsim.cli import file_to_write
from shared.request_base import (
    EXTERNAL_ID_PATTERN,
    GUID_PATTERN,
    MAX_REQUEST_BYTES,
    REQUEST_ID_PATTERN,
)
from shared.wording import one_line

SHOWN = 60  # characters of a refused value echoed back
# A file holding a request, or a release, as people write them (indented): far above what
# one holds once sent (MAX_REQUEST_BYTES, compact), far below what would strain memory.
FILE_BYTES = 1 << 20


class TooLarge(ValueError):
    """A file (or standard input) longer than anything it could rightly hold."""


def read_bounded(path: str, limit: int = MAX_REQUEST_BYTES) -> bytes:
    """The bytes of the file `path` (`-`: standard input), when there are at most `limit` of
    them: no more than one past it is ever read (TooLarge; OSError when unreadable)."""
    if path == "-":
        data = sys.stdin.buffer.read(limit + 1)
    else:
        with Path(path).open("rb") as source:
            data = source.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"{path} is over {limit} bytes, more than a request holds")
    return data


NOTE_CHARS = 500  # a reason kept on runs, pauses and events
NAME_CHARS = 100  # who acted


def note(text: str) -> str:
    """A reason an operator gives: one line of at most NOTE_CHARS characters, no control
    characters (it is shown in terminals, logs and events, on every run it holds)."""
    return _one_line(text, NOTE_CHARS)


def actor_name(text: str) -> str:
    """Who acted (`--by`): as a reason, shorter."""
    return _one_line(text, NAME_CHARS)


def _one_line(text: str, most: int) -> str:
    if len(text) > most:
        raise argparse.ArgumentTypeError(f"at most {most} characters, not {len(text)}")
    if one_line(text) != text:  # a line break, a terminal escape, a control character
        raise argparse.ArgumentTypeError("one line, without control characters")
    return text


def plain(text: str, most: int = NAME_CHARS) -> str:
    """A name taken from the environment, made safe to record: control characters dropped,
    cut to `most`."""
    return one_line(text).strip()[:most]


def out_file(text: str) -> str:
    """A file to write: refused before any work when it could not be (a directory, or in a
    folder that does not exist)."""
    path = Path(file_to_write(text))  # not a directory
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"no folder {shown(str(path.parent))} to write into")
    return text


def write_file(path: str, text: str) -> None:
    """Write `text` to `path`, or one line saying why it could not be (no traceback)."""
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise SystemExit(f"pcpub: cannot write {path}: {exc.strerror or exc}") from None


def shown(text: str) -> str:
    """A value as echoed back: quoted, and cut short (a sender's mistake can be any size)."""
    return repr(text if len(text) <= SHOWN else text[:SHOWN] + "...")


def run_id(text: str) -> str:
    """A request id (a run's), or a release id (they follow the same rule, shorter)."""
    if not re.fullmatch(REQUEST_ID_PATTERN, text):
        raise argparse.ArgumentTypeError(
            f"not a request or release id (up to 100 letters, digits, '.', '_', ':' or '-'): "
            f"{shown(text)}"
        )
    return text


def offer_ref(text: str) -> str:
    """An offer id (as in a request's offer.externalId) or a product GUID, either of them
    also as a run names its offer (`offer:ID`, `product:GUID`)."""
    kind, _, value = text.rpartition(":")
    if kind in ("", "offer") and re.fullmatch(EXTERNAL_ID_PATTERN, value):
        return value
    if kind in ("", "product") and re.fullmatch(GUID_PATTERN, value):
        return value.lower()
    raise argparse.ArgumentTypeError(
        f"not an offer id (3-50 lowercase letters, digits, '-' or '_') or a product GUID: "
        f"{shown(text)}"
    )


def json_object(path: str, what: str) -> dict[str, Any]:
    """The JSON object in the file `path` (`-`: standard input), `what` it is named in the
    one line that says why not (SystemExit)."""
    try:
        data = json.loads(read_bounded(path, FILE_BYTES))
    except OSError as exc:
        raise SystemExit(f"pcpub: cannot read {what} {path}: {exc.strerror}") from None
    except TooLarge as exc:
        raise SystemExit(f"pcpub: {what} {exc}") from None
    except ValueError as exc:  # not UTF-8, not JSON
        raise SystemExit(f"pcpub: {what} {path} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SystemExit(f"pcpub: {what} {path} is not a JSON object")
    return data
