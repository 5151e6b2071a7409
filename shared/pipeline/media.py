"""Listing media: the whole set of images (logos, screenshots) and documents a listing should
show, each file named in Partner Center by its content (the first 16 hex digits of its
SHA-256, then its file name), so a file that did not change matches what Partner Center holds
and is never uploaded again, and a plan shows only real changes. Converged like a draft
resource: read, compare, act only on the difference (create the slot, upload to its SAS URI,
mark it uploaded; reorder images; delete the rest).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from shared.ledger import Run
from shared.partnercenter.models import ListingMedia
from shared.partnercenter.responses import upload_uri
from shared.pipeline.deps import PackageFiles, StageDeps
from shared.pipeline.drafts import instance_of, pick
from shared.publish_request import DraftChanges
from shared.request_changes import ListingChanges, MediaChange, PackageSource


@dataclass(frozen=True)
class MediaKind:
    """What differs between images and documents: where they live and whether order counts."""

    field: str  # on a listing in the request
    collection: str  # under the listing in the API
    resource_type: str
    ordered: bool


KINDS = (
    MediaKind("images", "images", "ListingImage", ordered=True),
    MediaKind("documents", "assets", "ListingAsset", ordered=False),
)


@dataclass(frozen=True)
class MediaTarget:
    """The images or documents one listing language should show (offer or plan level)."""

    kind: MediaKind
    key: str  # the module as a submission lists it: Listing or Listing@<variant>
    variant: str | None
    language: str
    items: tuple[MediaChange, ...]


@dataclass(frozen=True)
class Wanted:
    type: str
    file_name: str
    order: int | None
    source: PackageSource | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.type.lower(), self.file_name.lower())


def listings_of(run: Run) -> list[tuple[str, str | None, str, ListingChanges]]:
    """Every listing the request sets: (module key, variant, language, its changes)."""
    changes = DraftChanges.model_validate(run.changes)
    groups: list[tuple[str | None, dict[str, ListingChanges]]] = [(None, changes.by_language())]
    groups += [(run.plans[p], c.by_language()) for p, c in sorted(changes.plans.items())]
    return [
        (f"Listing@{variant}" if variant else "Listing", variant, language, listing)
        for variant, listings in groups
        for language, listing in sorted(listings.items())
    ]


def media_targets(run: Run) -> list[MediaTarget]:
    return [
        MediaTarget(kind, key, variant, language, tuple(got))
        for key, variant, language, listing in listings_of(run)
        for kind in KINDS
        if (got := getattr(listing, kind.field)) is not None
    ]


def content_name(data: bytes, source: PackageSource) -> str:
    return f"{hashlib.sha256(data).hexdigest()[:16]}-{source.file_name}"[:200]


def wanted(target: MediaTarget, files: PackageFiles | None) -> list[Wanted]:
    """What the listing should show; a file is read to learn its content's name."""
    found = []
    for index, item in enumerate(target.items):
        order = (item.order if item.order is not None else index) if target.kind.ordered else None
        if item.file is None:
            found.append(Wanted(item.type, item.file_name or "", order))
            continue
        if files is None:
            raise LookupError("this deployment reads no listing files")
        name = content_name(files.read(item.file), item.file)
        found.append(Wanted(item.type, name, order, item.file))
    return found


def shown(kind: MediaKind, items: list[ListingMedia] | list[Wanted]) -> list[str]:
    """A set as a plan shows it: `type name` (`#order` for images), in display order."""
    rows = sorted((i.type.lower(), i.order or 0, i.type, i.file_name) for i in items)
    return [f"{t} {name}" + (f" #{order}" if kind.ordered else "") for _, order, t, name in rows]


def listing_of_language(
    deps: StageDeps, pid: str, variant: str | None, language: str
) -> str | None:
    """The id of the listing a language's files belong to (None: it is not there yet)."""
    instance = instance_of(deps.pc, pid, "Listing", variant)
    found = pick(deps.pc.drafts(pid, "listings", instance), language)
    return found.id if found is not None else None


def listing_of(deps: StageDeps, pid: str, target: MediaTarget) -> str | None:
    return listing_of_language(deps, pid, target.variant, target.language)


def current(deps: StageDeps, pid: str, target: MediaTarget) -> list[ListingMedia]:
    listing = listing_of(deps, pid, target)
    return deps.pc.media(pid, listing, target.kind.collection) if listing else []


def converge_media(deps: StageDeps, pid: str, target: MediaTarget) -> bool:
    """Make the listing show exactly the wanted files; True when anything was done."""
    listing = listing_of(deps, pid, target)
    if listing is None:
        raise LookupError(f"no {target.language} listing for its {target.kind.field}")
    kind = target.kind
    want = wanted(target, deps.files)
    have = {(i.type.lower(), i.file_name.lower()): i for i in current(deps, pid, target)}
    keys = {w.key for w in want}
    acted = False
    for key, item in sorted(have.items()):
        if key not in keys:
            deps.pc.delete_media(pid, listing, kind.collection, item.id)
            acted = True
    for w in want:
        found = have.get(w.key)
        if found is None:
            body: dict[str, Any] = {
                "resourceType": kind.resource_type,
                "type": w.type,
                "fileName": w.file_name,
            }
            if w.order is not None:
                body["order"] = w.order
            found = deps.pc.create_media(pid, listing, kind.collection, body)
            acted = True
        if found.state.lower() == "pendingupload":  # new, or left so by a crashed attempt
            _upload(deps, pid, listing, target, found, w)
            acted = True
        elif w.order is not None and found.order != w.order:
            body = _body(kind, found, order=w.order)
            deps.pc.put_media(pid, listing, kind.collection, body, found.etag)
            acted = True
    return acted


def _body(kind: MediaKind, item: ListingMedia, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"resourceType": kind.resource_type, "id": item.id, "type": item.type}
    body["fileName"] = item.file_name
    if kind.ordered:
        body["order"] = item.order
    return {**body, **changes}


def _upload(
    deps: StageDeps, pid: str, listing: str, target: MediaTarget, item: ListingMedia, w: Wanted
) -> None:
    if w.source is None or deps.files is None:
        raise LookupError(f"{w.file_name} waits for its file, and the request gives none")
    if not item.file_sas_uri:  # as listed: ask for the slot again, with its SAS URI
        item = next((i for i in current(deps, pid, target) if i.id == item.id), item)
    deps.files.upload(upload_uri(item.file_sas_uri, w.file_name), deps.files.read(w.source))
    body = _body(target.kind, item, state="Uploaded")
    deps.pc.put_media(pid, listing, target.kind.collection, body, item.etag)


def unsettled(deps: StageDeps, pid: str, targets: list[MediaTarget]) -> tuple[list[str], list[str]]:
    """(files still processing, files Partner Center failed to process)."""
    busy, failed = [], []
    for target in targets:
        for item in current(deps, pid, target):
            state = item.state.lower()
            if state in ("uploaded", "inprocessing"):
                busy.append(item.file_name)
            elif state == "processfailed":
                failed.append(item.file_name)
    return busy, failed


def change(target: MediaTarget, plan: str | None, old: list[str], new: list[str]) -> dict[str, Any]:
    """A plan's entry for a listing whose images (or documents) would change."""
    return {
        "module": "Listing",
        "plan": plan,
        "language": target.language,
        "field": target.kind.field,
        "old": old,
        "new": new,
    }
