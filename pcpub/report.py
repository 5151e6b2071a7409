"""`pcpub report`: one self-contained HTML page showing a run, or every run of a release, as a
timeline: each stage a bar (pipeline work, a wait on Partner Center's certification, a gate
held by the publisher), with its Partner Center calls, the run's outcome and, for a run that
did not succeed, its reason. No script, no external file: it opens anywhere, phones included.
Every value from a request or Partner Center is escaped (offer names and reasons are data)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape

from shared.ledger import Run, RunStatus, now_utc, parse_stamp

WAITS = {"await_package", "await_preview", "await_live"}  # Partner Center works
GATES = {"await_release", "await_go_live", "await_turn"}  # held: by the publisher, or another run
COLORS = {"work": "#2f6fde", "certification": "#e0a526", "gate": "#8c8c8c"}
OUTCOME = {
    RunStatus.SUCCEEDED: "#1e8e3e",
    RunStatus.UNCHANGED: "#1e8e3e",
    RunStatus.PLANNED: "#1e8e3e",
    RunStatus.FAILED: "#d93025",
    RunStatus.REJECTED: "#d93025",
    RunStatus.CANCELLED: "#8c8c8c",
}


@dataclass(frozen=True)
class Bar:
    stage: str
    kind: str  # work | certification | gate
    start: float  # seconds from the report's first moment
    seconds: float
    calls: int
    running: bool


def kind_of(stage: str) -> str:
    return "certification" if stage in WAITS else "gate" if stage in GATES else "work"


def bars(run: Run, origin: datetime, now: datetime) -> list[Bar]:
    found = []
    for step in run.timeline:
        begun = parse_stamp(step.started)
        ended = parse_stamp(step.ended) if step.ended else now
        found.append(
            Bar(
                stage=step.stage,
                kind=kind_of(step.stage),
                start=max(0.0, (begun - origin).total_seconds()),
                seconds=max(0.0, (ended - begun).total_seconds()),
                calls=step.calls,
                running=step.ended is None and not run.status.terminal,
            )
        )
    return found


def render(title: str, runs: list[Run], notes: list[str], now: datetime | None = None) -> str:
    """The page for `runs` (in the order given), with `notes` (incidents, holds) on top."""
    now = now or now_utc()
    starts = [parse_stamp(r.timeline[0].started) for r in runs if r.timeline]
    origin = min(starts, default=now)
    rows = [(run, bars(run, origin, now)) for run in runs]
    span = max((b.start + b.seconds for _, bs in rows for b in bs), default=1.0) or 1.0
    body = "".join(_row(run, found, span) for run, found in rows)
    legend = "".join(
        f'<span class="key"><i style="background:{color}"></i>{name}</span>'
        for name, color in (
            ("pipeline work", COLORS["work"]),
            ("certification (Partner Center)", COLORS["certification"]),
            ("held at a gate", COLORS["gate"]),
        )
    )
    summary = ", ".join(
        f"{sum(1 for r in runs if r.status is s)} {s}"
        for s in RunStatus
        if any(r.status is s for r in runs)
    )
    note_html = "".join(f'<p class="note">{escape(n)}</p>' for n in notes)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>
body {{ font: 15px system-ui, sans-serif; margin: 16px; color: #202124; }}
h1 {{ font-size: 20px; margin: 0 0 4px; }}
.meta, .key {{ color: #5f6368; font-size: 13px; }}
.key {{ margin-right: 12px; white-space: nowrap; }}
.key i {{ display: inline-block; width: 12px; height: 12px; margin-right: 4px; }}
.run {{ border-top: 1px solid #dadce0; padding: 10px 0; }}
.head {{ display: flex; flex-wrap: wrap; gap: 8px; align-items: baseline; }}
.status {{ color: #fff; border-radius: 4px; padding: 1px 6px; font-size: 13px; }}
.track {{ position: relative; height: 26px; background: #f1f3f4; margin-top: 6px; }}
.bar {{ position: absolute; top: 0; height: 26px; min-width: 3px; overflow: hidden;
  color: #fff; font-size: 11px; line-height: 26px; white-space: nowrap;
  box-shadow: inset -1px 0 #fff; }}
.bar.running {{ opacity: .6; }}
.reason {{ color: #d93025; margin: 6px 0 0; }}
.note {{ background: #fef7e0; padding: 6px 8px; }}
table {{ border-collapse: collapse; font-size: 13px; margin-top: 6px; }}
td {{ padding: 1px 10px 1px 0; }}
</style></head><body>
<h1>{escape(title)}</h1>
<p class="meta">{len(runs)} run(s): {escape(summary)}; {span:.1f} s from first to last.
As of {escape(now.isoformat(timespec="seconds"))}.</p>
<p>{legend}</p>{note_html}
{body}
</body></html>
"""


def _row(run: Run, found: list[Bar], span: float) -> str:
    color = OUTCOME.get(run.status, "#2f6fde")
    spans = "".join(
        f'<div class="bar{" running" if b.running else ""}" '
        f'style="left:{100 * b.start / span:.2f}%;width:{100 * b.seconds / span:.2f}%;'
        f'background:{COLORS[b.kind]}" title="{escape(b.stage)}: {b.seconds:.1f} s, '
        f'{b.calls} calls">{escape(b.stage)}</div>'
        for b in found
    )
    table = "".join(
        f"<tr><td>{escape(b.stage)}</td><td>{b.seconds:.1f} s</td>"
        f"<td>{b.calls} calls</td><td>{'running' if b.running else ''}</td></tr>"
        for b in found
    )
    reason = (
        f'<p class="reason">{escape(run.reason or run.last_error or "")}</p>'
        if run.status not in (RunStatus.SUCCEEDED, RunStatus.UNCHANGED)
        and (run.reason or run.last_error)
        else ""
    )
    calls = sum(b.calls for b in found)
    return f"""<section class="run">
<div class="head"><strong>{escape(run.offer or run.run_id)}</strong>
<span class="status" style="background:{color}">{escape(str(run.status))}</span>
<span class="meta">{escape(run.run_id)} · at {escape(run.stage)} · {calls} Partner Center
calls{f" · submission {escape(run.submission_id)}" if run.submission_id else ""}</span></div>
<div class="track">{spans}</div>{reason}
<table>{table}</table>
</section>
"""
