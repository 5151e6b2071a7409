"""The report page: bars where the stages were, hostile text escaped, and (in headless
Chromium, at a phone's width) a picture that shows the stages, not a blank page."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

from PIL import Image

from pcpub.report import COLORS, render
from shared.ledger import Run, RunStatus, StageRecord, now_utc, stamp

NOW = now_utc()


def a_run(run_id: str, status: RunStatus, reason: str | None = None) -> Run:
    t = [stamp(NOW - timedelta(seconds=s)) for s in (100, 90, 80, 20, 10, 0)]
    steps = ["resolve", "update_draft", "submit_preview", "await_preview", "promote"]
    timeline = [
        StageRecord(stage=stage, started=t[i], ended=t[i + 1], calls=i + 1)
        for i, stage in enumerate(steps)
    ]
    return Run(
        run_id=run_id,
        status=status,
        stage="complete" if status.terminal else "promote",
        offer=f"offer:{run_id}",
        reason=reason,
        created_at=t[0],
        timeline=timeline,
    )


def test_bars_follow_the_timeline_and_data_is_escaped() -> None:
    hostile = '<script>alert("x")</script> listing needs a support contact'
    html = render(
        "release <r1>",
        [a_run("a", RunStatus.SUCCEEDED), a_run("b", RunStatus.FAILED, reason=hostile)],
        ["PAUSED: offer <x>"],
        now=NOW,
    )
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "release &lt;r1&gt;" in html and "offer &lt;x&gt;" in html
    # await_preview ran from 20 s to 10 s before the end of a 100-second span: 80% .. 90%.
    assert f"left:80.00%;width:10.00%;background:{COLORS['certification']}" in html
    assert html.count('<section class="run">') == 2
    assert "1 succeeded, 1 failed" in html


def test_the_page_shows_its_stages_in_headless_chromium(tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser, "make install puts Debian's chromium on the machine"
    runs = [a_run(f"offer-{i}", RunStatus.SUCCEEDED) for i in range(4)]
    page = tmp_path / "report.html"
    page.write_text(render("release r1", runs, [], now=NOW))
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=412,915",  # a phone
            "--hide-scrollbars",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    image = Image.open(shot).convert("RGB")
    counts = image.getcolors(maxcolors=1 << 20) or []
    seen = {rgb: n for n, rgb in counts}

    def pixels(hex_color: str) -> int:
        rgb = tuple(int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
        return seen.get(rgb, 0)

    assert pixels(COLORS["work"]) > 2000  # the bars are drawn, at a phone's width
    assert pixels(COLORS["certification"]) > 2000
    assert len(seen) > 20  # text and bars, not a blank page
