"""Lists in messages kept short: a release of 250 offers must not make a line of 250 names."""

from __future__ import annotations

from collections.abc import Sequence


def listed(items: Sequence[str], most: int, sep: str = ", ") -> str:
    """The first `most` items joined by `sep`, then how many more there are."""
    shown = sep.join(items[:most])
    return shown + (f"{sep}and {len(items) - most} more" if len(items) > most else "")
