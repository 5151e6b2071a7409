"""Text for messages: lists kept short (a release of 250 offers must not make a line of 250
names), and text from elsewhere made one line (a service's `\r\n`, a terminal escape)."""

from __future__ import annotations

import re
from collections.abc import Sequence

_BREAKS = re.compile(r"[\t\n\v\f\r\x85\u2028\u2029]+")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def listed(items: Sequence[str], most: int, sep: str = ", ") -> str:
    """The first `most` items joined by `sep`, then how many more there are."""
    shown = sep.join(items[:most])
    return shown + (f"{sep}and {len(items) - most} more" if len(items) > most else "")


def one_line(text: str) -> str:
    """`text` as one line: line breaks and tabs become a space, other control characters
    (terminal escapes among them) go."""
    return _CONTROLS.sub("", _BREAKS.sub(" ", text))
