"""A listing's files (images, documents, video thumbnails) as the draft stage sees them: which
modules differ, and bringing them to what the request asks, the run waiting while Partner
Center processes what was uploaded."""

from __future__ import annotations

from shared.ledger import Run
from shared.pipeline import media, videos
from shared.pipeline.deps import StageDeps
from shared.pipeline.outcomes import Failed, Retry


def differing(deps: StageDeps, pid: str, run: Run) -> set[str]:
    """The modules whose listing files differ from what the request asks (nothing written)."""
    found = {
        t.key
        for t in media.media_targets(run)
        if media.shown(t.kind, media.current(deps, pid, t))
        != media.shown(t.kind, media.wanted(t, deps.files))
    }
    found |= {
        t.key
        for t in videos.video_targets(run)
        if videos.shown(videos.current(deps, pid, t)) != videos.shown(videos.wanted(t, deps))
    }
    return found


def bring_files(deps: StageDeps, pid: str, run: Run) -> tuple[set[str], Failed | Retry | None]:
    """Converge every listing's files; the modules that changed, and what stops the run going
    on: a file Partner Center failed to process, or files still processing (checked again
    after a poll interval, the stage's work already done)."""
    files, clips = media.media_targets(run), videos.video_targets(run)
    changed = {t.key for t in files if media.converge_media(deps, pid, t)}
    changed |= {t.key for t in clips if videos.converge_videos(deps, pid, t)}
    busy, failed = media.unsettled(deps, pid, files)
    busy_clips, failed_clips = videos.unsettled(deps, pid, clips)
    busy, failed = busy + busy_clips, failed + failed_clips
    if failed:
        return changed, Failed(reason=f"listing files failed processing: {', '.join(failed)}")
    if busy:
        why = f"listing files still processing: {', '.join(busy[:5])}"
        return changed, Retry(delay_seconds=deps.poll_seconds, reason=why, trouble=False)
    return changed, None
