"""Listing videos: where each streams, its title, and its thumbnail image, which is uploaded
like any listing image and named by its content (shared.pipeline.media), so an unchanged
video is neither created nor uploaded again. Converged the same way: read, compare, and only
delete what the request no longer names and create (then upload the thumbnail of) what is new.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.ledger import Run
from shared.partnercenter.models import ListingVideo
from shared.partnercenter.responses import upload_uri
from shared.pipeline.deps import StageDeps
from shared.pipeline.media import content_name, listing_of_language, listings_of
from shared.request_changes import PackageSource, VideoChange


@dataclass(frozen=True)
class VideoTarget:
    key: str  # Listing or Listing@<variant>
    variant: str | None
    language: str
    items: tuple[VideoChange, ...]


@dataclass(frozen=True)
class WantedVideo:
    title: str
    link: str
    thumbnail: str  # the thumbnail's name in Partner Center
    source: PackageSource | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.title, self.link, self.thumbnail.lower())


def video_targets(run: Run) -> list[VideoTarget]:
    return [
        VideoTarget(key, variant, language, tuple(got))
        for key, variant, language, listing in listings_of(run)
        if (got := listing.videos) is not None
    ]


def wanted(target: VideoTarget, deps: StageDeps) -> list[WantedVideo]:
    found = []
    for video in target.items:
        if video.thumbnail is None:
            found.append(WantedVideo(video.title, video.link, video.thumbnail_name or ""))
            continue
        if deps.files is None:
            raise LookupError("this deployment reads no listing files")
        name = content_name(deps.files.read(video.thumbnail), video.thumbnail)
        found.append(WantedVideo(video.title, video.link, name, video.thumbnail))
    return found


def key_of(video: ListingVideo) -> tuple[str, str, str]:
    return (video.thumbnail.title, video.streaming_uri, video.thumbnail.file_name.lower())


def current(deps: StageDeps, pid: str, target: VideoTarget) -> list[ListingVideo]:
    listing = listing_of_language(deps, pid, target.variant, target.language)
    return deps.pc.videos(pid, listing) if listing else []


def shown(items: list[ListingVideo] | list[WantedVideo]) -> list[str]:
    """A video set as a plan shows it: `title <link> thumbnail`."""
    rows = sorted(
        (i.thumbnail.title, i.streaming_uri, i.thumbnail.file_name)
        if isinstance(i, ListingVideo)
        else (i.title, i.link, i.thumbnail)
        for i in items
    )
    return [f"{title} <{link}> {thumbnail}" for title, link, thumbnail in rows]


def converge_videos(deps: StageDeps, pid: str, target: VideoTarget) -> bool:
    """Make the listing show exactly the wanted videos; True when anything was done."""
    listing = listing_of_language(deps, pid, target.variant, target.language)
    if listing is None:
        raise LookupError(f"no {target.language} listing for its videos")
    want = wanted(target, deps)
    have = {key_of(v): v for v in deps.pc.videos(pid, listing)}
    keys = {w.key for w in want}
    acted = False
    for key, video in sorted(have.items()):
        if key not in keys:
            deps.pc.delete_media(pid, listing, "videos", video.id)
            acted = True
    for w in want:
        found = have.get(w.key)
        if found is None:
            body = {
                "resourceType": "ListingVideo",
                "streamingUri": w.link,
                "thumbnail": {"title": w.title, "fileName": w.thumbnail},
            }
            found = deps.pc.create_video(pid, listing, body)
            acted = True
        if found.thumbnail.state.lower() == "pendingupload":
            _upload(deps, pid, listing, found, w)
            acted = True
    return acted


def _upload(deps: StageDeps, pid: str, listing: str, video: ListingVideo, w: WantedVideo) -> None:
    if w.source is None or deps.files is None:
        raise LookupError(f"thumbnail {w.thumbnail} waits for its file, and the request gives none")
    if not video.thumbnail.file_sas_uri:  # as listed: ask again, with the SAS URI
        video = next((v for v in deps.pc.videos(pid, listing) if v.id == video.id), video)
    uri = upload_uri(video.thumbnail.file_sas_uri, f"thumbnail {w.thumbnail}")
    deps.files.upload(uri, deps.files.read(w.source))
    body: dict[str, Any] = {
        "resourceType": "ListingVideo",
        "id": video.id,
        "streamingUri": video.streaming_uri,
        "thumbnail": {
            "title": video.thumbnail.title,
            "fileName": video.thumbnail.file_name,
            "state": "Uploaded",
        },
    }
    deps.pc.put_video(pid, listing, body, video.etag)


def unsettled(deps: StageDeps, pid: str, targets: list[VideoTarget]) -> tuple[list[str], list[str]]:
    busy, failed = [], []
    for target in targets:
        for video in current(deps, pid, target):
            state = video.thumbnail.state.lower()
            if state in ("uploaded", "inprocessing"):
                busy.append(video.thumbnail.file_name)
            elif state == "processfailed":
                failed.append(video.thumbnail.file_name)
    return busy, failed
