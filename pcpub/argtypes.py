"""What `pcpub` takes as an id or an offer, checked before anything is read: a run can only
have an id a request could give it, and an offer only an offer id or a product GUID, so
anything else (an empty `--offer "$OFFER"`, a path, a key the table service refuses) is
answered as a usage error naming the rule, never read or written as if it were one."""

from __future__ import annotations

import argparse
import re

from shared.request_base import EXTERNAL_ID_PATTERN, GUID_PATTERN, REQUEST_ID_PATTERN

SHOWN = 60  # characters of a refused value echoed back


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
    kind, _, value = text.partition(":") if ":" in text else ("", "", text)
    if (kind in ("", "offer") and re.fullmatch(EXTERNAL_ID_PATTERN, value)) or (
        kind in ("", "product") and re.fullmatch(GUID_PATTERN, value)
    ):
        return value.lower() if re.fullmatch(GUID_PATTERN, value) else value
    raise argparse.ArgumentTypeError(
        f"not an offer id (3-50 lowercase letters, digits, '-' or '_') or a product GUID: "
        f"{shown(text)}"
    )
