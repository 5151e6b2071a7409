"""Listing images: the whole set a listing should show, each named in Partner Center by its
content (the first 16 hex digits of its SHA-256, then its file name), so a file that did not
change matches what Partner Center holds and is never uploaded again, and a plan shows only
real changes. Converged like a draft resource: read, compare, act only on the difference
(create the slot, upload to its SAS URI, mark it uploaded; reorder; delete the rest).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from shared.ledger import Run
from shared.partnercenter.models import ListingImage
from shared.pipeline.deps import PackageFiles, StageDeps
from shared.pipeline.drafts import instance_of, pick
from shared.pipeline.outcomes import Failed, Retry
from shared.publish_request import DraftChanges
from shared.request_changes import ImageChange, PackageSource


@dataclass(frozen=True)
class ImageTarget:
    """The images one listing language should show (offer level, or a plan's listing)."""

    key: str  # the module as a submission lists it: Listing or Listing@<variant>
    variant: str | None
    language: str
    images: tuple[ImageChange, ...]


@dataclass(frozen=True)
class Wanted:
    type: str
    file_name: str
    order: int
    source: PackageSource | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.type.lower(), self.file_name.lower())


def image_targets(run: Run) -> list[ImageTarget]:
    changes = DraftChanges.model_validate(run.changes)
    groups = [(None, changes.by_language())] + [
        (run.plans[plan], change.by_language()) for plan, change in sorted(changes.plans.items())
    ]
    return [
        ImageTarget(f"Listing@{variant}" if variant else "Listing", variant, lang, tuple(images))
        for variant, listings in groups
        for lang, listing in sorted(listings.items())
        if (images := listing.images) is not None
    ]


def content_name(data: bytes, source: PackageSource) -> str:
    return f"{hashlib.sha256(data).hexdigest()[:16]}-{source.file_name}"[:200]


def wanted(target: ImageTarget, files: PackageFiles | None) -> list[Wanted]:
    """What the listing should show; a file is read once to learn its content's name."""
    found = []
    for index, image in enumerate(target.images):
        order = image.order if image.order is not None else index
        if image.file is None:
            found.append(Wanted(image.type, image.file_name or "", order))
            continue
        if files is None:
            raise LookupError("this deployment reads no image files")
        name = content_name(files.read(image.file), image.file)
        found.append(Wanted(image.type, name, order, image.file))
    return found


def shown(images: list[ListingImage] | list[Wanted]) -> list[str]:
    """An image set as a plan shows it: `type name #order`, in display order."""
    return [f"{i.type} {i.file_name} #{i.order}" for i in sorted(images, key=_display)]


def _display(image: ListingImage | Wanted) -> tuple[str, int, str]:
    return (image.type.lower(), image.order, image.file_name.lower())


def listing_of(deps: StageDeps, pid: str, target: ImageTarget) -> str | None:
    """The id of the listing the images belong to (None: the language is not there yet)."""
    instance = instance_of(deps.pc, pid, "Listing", target.variant)
    found = pick(deps.pc.drafts(pid, "listings", instance), target.language)
    return found.id if found is not None else None


def current(deps: StageDeps, pid: str, target: ImageTarget) -> list[ListingImage]:
    listing = listing_of(deps, pid, target)
    return deps.pc.images(pid, listing) if listing else []


def converge_images(deps: StageDeps, pid: str, target: ImageTarget) -> bool:
    """Make the listing show exactly the wanted images; True when anything was done."""
    listing = listing_of(deps, pid, target)
    if listing is None:
        raise LookupError(f"no {target.language} listing for its images")
    want = wanted(target, deps.files)
    have = {(i.type.lower(), i.file_name.lower()): i for i in deps.pc.images(pid, listing)}
    keys = {w.key for w in want}
    acted = False
    for key, image in sorted(have.items()):
        if key not in keys:
            deps.pc.delete_image(pid, listing, image.id)
            acted = True
    for w in want:
        found = have.get(w.key)
        if found is None:
            image = deps.pc.create_image(pid, listing, w.type, w.file_name, w.order)
            acted = True
        else:
            image = found
        if image.state.lower() == "pendingupload":  # new, or left so by a crashed attempt
            _upload(deps, pid, listing, image, w)
            acted = True
        elif image.order != w.order:
            deps.pc.put_image(pid, listing, image, order=w.order)
            acted = True
    return acted


def _upload(deps: StageDeps, pid: str, listing: str, image: ListingImage, w: Wanted) -> None:
    if w.source is None or deps.files is None:
        raise LookupError(f"image {w.file_name} waits for its file, and the request gives none")
    if not image.file_sas_uri:  # the slot as listed: ask for it again with its SAS URI
        image = next(i for i in deps.pc.images(pid, listing) if i.id == image.id)
    assert image.file_sas_uri, "Partner Center gave no SAS URI for the image"
    deps.files.upload(image.file_sas_uri, deps.files.read(w.source))
    deps.pc.put_image(pid, listing, image, state="Uploaded", order=w.order)


def unsettled(deps: StageDeps, pid: str, targets: list[ImageTarget]) -> tuple[list[str], list[str]]:
    """(images still processing, images Partner Center failed to process)."""
    busy, failed = [], []
    for target in targets:
        for image in current(deps, pid, target):
            state = image.state.lower()
            if state in ("uploaded", "inprocessing"):
                busy.append(image.file_name)
            elif state == "processfailed":
                failed.append(image.file_name)
    return busy, failed


def change(target: ImageTarget, plan: str | None, old: list[str], new: list[str]) -> dict[str, Any]:
    """A plan's entry for a listing whose images would change."""
    return {
        "module": "Listing",
        "plan": plan,
        "language": target.language,
        "field": "images",
        "old": old,
        "new": new,
    }


def differing(deps: StageDeps, pid: str, run: Run) -> set[str]:
    """The modules whose listing images differ from what the request asks (nothing written)."""
    return {
        t.key
        for t in image_targets(run)
        if shown(current(deps, pid, t)) != shown(wanted(t, deps.files))
    }


def bring_images(deps: StageDeps, pid: str, run: Run) -> tuple[set[str], Failed | Retry | None]:
    """Converge every listing's images; the modules that changed, and what stops the run going
    on: an image Partner Center failed to process, or images still processing (checked again
    after a poll interval, the stage's work already done)."""
    targets = image_targets(run)
    changed = {t.key for t in targets if converge_images(deps, pid, t)}
    busy, failed = unsettled(deps, pid, targets)
    if failed:
        return changed, Failed(reason=f"listing images failed processing: {', '.join(failed)}")
    if busy:
        why = f"listing images still processing: {', '.join(busy[:5])}"
        return changed, Retry(delay_seconds=deps.poll_seconds, reason=why)
    return changed, None
