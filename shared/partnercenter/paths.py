"""Building request paths from data, safely.

Every value that goes into a path (a product id, a submission id, a module name) is
percent-encoded as one segment, and '.', '..' and empty segments are refused; and the final URL
of every request is checked to stay on the API's origin under its base path. Intake already
refuses malformed ids: this is the second line, for ids that come from anywhere else (a ledger
row, a Partner Center answer, a nextLink).
"""

from __future__ import annotations

import posixpath
import re
from urllib.parse import quote, unquote, urlsplit

from shared.partnercenter.errors import PartnerCenterError


class UnsafePath(PartnerCenterError):
    """A path built from data would leave the API; nothing was sent (never transient)."""


# Far above any id Partner Center gives (GUIDs, numbers), far below what a URL may hold:
# a longer value made httpx refuse the URL (InvalidURL, a bug's error).
MAX_SEGMENT = 1000


def segment(value: object) -> str:
    """One path segment (or a value inside `name(...)`) from data, percent-encoded."""
    text = str(value)
    if text in ("", ".", "..") or "\x00" in text or len(text) > MAX_SEGMENT:
        raise UnsafePath(f"refused to put {text[:40]!r} into a request path")
    return quote(text, safe="-_~")


def check_within(url: str, base_url: str) -> None:
    """Refuse a URL whose origin differs from the base's, or whose path, once dot segments and
    percent-encoding are resolved the way a server would, leaves the base path."""
    target, base = urlsplit(url), urlsplit(base_url)
    if (target.scheme, target.netloc.lower()) != (base.scheme, base.netloc.lower()):
        raise UnsafePath(f"refused a request to another origin ({target.netloc[:80]})")
    root = base.path.rstrip("/").lower()
    resolved = posixpath.normpath(unquote(target.path)).lower()
    if resolved != root and not resolved.startswith(root + "/"):
        raise UnsafePath(f"refused a request outside {base.path} ({target.path[:80]})")


# A path segment (or a value inside `name(key=...)`) holding a digit is an id, not a route name:
# every name the API routes by (products, submissions, getByModule, ...) is letters only.
_ID_PART = re.compile(r"(?<=[/=])[^/=()]*\d[^/=()]*")
_API_ROOTS = ("/v1.0/ingestion/", "/rp/product-ingestion/")


def route_template(path: str) -> str:
    """The route a request path follows, ids replaced: `products/{id}/submissions/{id}`.
    Telemetry groups calls by it (span names, metric dimensions) without one series per id."""
    path = "/" + (urlsplit(path).path if "://" in path else path.split("?", 1)[0]).lstrip("/")
    for root in _API_ROOTS:
        if root in path.lower():
            path = path[path.lower().index(root) + len(root) - 1 :]
            break
    return _ID_PART.sub("{id}", path.rstrip("/"))[1:]
