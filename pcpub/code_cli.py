"""`pcpub` commands for keeping offers as code (the handlers behind pcpub.cli):

pcpub export OFFER [--out FILE]        the offer as Partner Center holds it, as a request file
pcpub plan FILE                        what the file would change (exit 0: nothing, 2: changes);
                                       a release file: every offer's plan at once
pcpub apply FILE --target preview|live send the file as a publish (and follow it with --wait)

Each runs through the pipeline with the function app's identity: no Partner Center secret on
the operator's machine. A file may be sent again and again: each send gets a request id of its
own (the file's requestId names the file, not a run).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from pcpub.argtypes import json_object, out_file, write_file
from shared.ledger import Run, RunStatus, now_utc
from shared.wording import one_line

Handler = Callable[[argparse.Namespace], int]
NO_CHANGE, FAILED, CHANGES = 0, 1, 2  # as `terraform plan -detailed-exitcode`
# What a plan or an export cannot carry from a publish request.
_PUBLISH_ONLY = ("goLive", "notBefore", "onlyChanged")


def register(sub: Any, storage_args: Callable[[argparse.ArgumentParser], None]) -> None:
    export = sub.add_parser("export", help="write an offer out as a request file")
    export.add_argument("offer", help="the offer id (or, with --product-id, the product GUID)")
    export.add_argument("--product-id", action="store_true", help="OFFER is a product GUID")
    export.add_argument("--out", type=out_file, help="the file to write (default: standard output)")
    export.add_argument(
        "--state",
        choices=["draft", "preview", "live"],
        default="draft",
        help="what to export: the draft (default), or what is in preview or live",
    )
    plan = sub.add_parser("plan", help="what a request file would change (nothing is written)")
    plan.add_argument("file", help="a request file (- for stdin)")
    plan.add_argument("--json", action="store_true", help="the plan as JSON")
    apply = sub.add_parser("apply", help="send a request file as a publish")
    apply.add_argument("file", help="a request file (- for stdin)")
    apply.add_argument("--target", choices=["preview", "live"], required=True)
    apply.add_argument("--wait", action="store_true", help="follow the run until it ends")
    for command in (export, plan, apply):
        command.add_argument("--timeout", type=float, default=600.0, help="seconds to wait")
        storage_args(command)


def handlers(storage: Callable[[argparse.Namespace], Any]) -> dict[str, Handler]:
    def _export(args: argparse.Namespace) -> int:
        key = "productId" if args.product_id else "externalId"
        request = _request({"offer": {key: args.offer}, "exportFrom": args.state}, "export")
        run = _send_and_wait(storage(args), request, args.timeout)
        if run is None or run.status is not RunStatus.SUCCEEDED or not run.export:
            return _failed(run, request)
        text = storage(args).read_blob(run.export).decode()
        if args.out:
            write_file(args.out, text.rstrip("\n") + "\n")  # a text file, kept in git
            print(f"exported {args.offer} to {args.out}", file=sys.stderr)
        else:
            print(text)
        return NO_CHANGE

    def _plan(args: argparse.Namespace) -> int:
        data = json_object(args.file, "request file")
        if "releaseId" in data or "offers" in data:
            return _plan_release(storage(args), data, args)
        request = _request(data, "plan")
        run = _send_and_wait(storage(args), request, args.timeout)
        if run is None or run.status is not RunStatus.PLANNED:
            return _failed(run, request)
        if args.json:
            print(json.dumps({"requestId": run.run_id, **run.plan}, indent=2))
        else:
            print(format_plan(run))
        return CHANGES if run.plan.get("changes") else NO_CHANGE

    def _apply(args: argparse.Namespace) -> int:
        data = json_object(args.file, "request file")
        if "releaseId" in data or "offers" in data:  # planned whole, sent whole
            raise SystemExit(
                f"pcpub: not sent: {args.file} is a release: pcpub release send {args.file} "
                f"--wait {args.target}"
            )
        request = _request(data, args.target)
        if not args.wait:
            _send(storage(args), request)
            print(f"enqueued {request['requestId']}")
            return NO_CHANGE
        run = _send_and_wait(storage(args), request, args.timeout)
        if run is None or run.status not in (RunStatus.SUCCEEDED, RunStatus.UNCHANGED):
            return _failed(run, request)
        print(f"{run.run_id}: {run.status} (submission {run.submission_id or '-'})")
        return NO_CHANGE

    return {"export": _export, "plan": _plan, "apply": _apply}


def _plan_release(storage: Any, data: dict[str, Any], args: argparse.Namespace) -> int:
    """A release planned as a whole: every offer's plan at once; exit 2 if any would change."""
    from pcpub.release_follow import send_release
    from shared.publish_request import RequestRejected
    from shared.releases import Releases

    body = {k: v for k, v in data.items() if k not in ("goLive", "notBefore")}
    body.update(schemaVersion=1, target="plan")
    body["releaseId"] = _fresh_id("plan", body)
    try:
        send_release(storage, json.dumps(body).encode())
    except (RequestRejected, ValueError) as exc:
        raise SystemExit(f"pcpub: not sent: {getattr(exc, 'reason', exc)}") from None
    books = Releases(storage.ledger)
    deadline = time.monotonic() + args.timeout
    release = None
    while time.monotonic() < deadline:
        release = books.get(body["releaseId"])
        if release is not None and release.status in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(1.0)
    else:
        print(f"pcpub: release {body['releaseId']} did not end in time", file=sys.stderr)
        return FAILED
    assert release is not None
    runs = books.runs(release)
    if args.json:
        plans = {n: {"requestId": r.run_id, **r.plan} if r else None for n, r in runs.items()}
        print(json.dumps({"releaseId": release.release_id, "offers": plans}, indent=2))
    else:
        for name, run in sorted(runs.items()):
            print(f"== {name}")
            print(format_plan(run) if run and run.status is RunStatus.PLANNED else _ended(run))
    if any(r is None or r.status is not RunStatus.PLANNED for r in runs.values()):
        return FAILED
    return CHANGES if any(r and r.plan.get("changes") for r in runs.values()) else NO_CHANGE


def _ended(run: Run | None) -> str:
    return f"  {run.status}: {one_line(run.reason or '')}" if run else "  (no run)"


def _fresh_id(target: str, body: dict[str, Any]) -> str:
    """An id of this send's own: the file's digest and the time."""
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:8]
    return f"{target}-{digest}-{now_utc():%Y%m%dT%H%M%S%f}"


def _request(data: dict[str, Any], target: str) -> dict[str, Any]:
    """The file as a request of `target`, with a request id of its own for this send."""
    dropped = {"live": (), "preview": ("goLive", "notBefore")}.get(target, _PUBLISH_ONLY)
    body = {k: v for k, v in data.items() if k not in dropped and k != "exportFrom"}
    if "exportFrom" in data and target == "export":
        body["exportFrom"] = data["exportFrom"]
    body.update(schemaVersion=1, target=target)
    body["requestId"] = _fresh_id(target, body)
    return body


def _send(storage: Any, request: dict[str, Any]) -> None:
    from pcpub.ops import enqueue
    from shared.publish_request import RequestRejected

    try:
        enqueue(storage, json.dumps(request))
    except RequestRejected as exc:
        raise SystemExit(f"pcpub: not sent: {exc.reason}") from None


def _send_and_wait(storage: Any, request: dict[str, Any], timeout: float) -> Run | None:
    _send(storage, request)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = storage.ledger.get(request["requestId"])
        if run is not None and run.status.terminal:
            return run  # type: ignore[no-any-return]
        time.sleep(1.0)
    return None


def _failed(run: Run | None, request: dict[str, Any]) -> int:
    if run is None:
        print(f"pcpub: {request['requestId']} did not end in time", file=sys.stderr)
    else:
        print(f"pcpub: {run.run_id} {run.status}: {one_line(run.reason or '')}", file=sys.stderr)
    return FAILED


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if value is not None else "(none)"


def _where(item: dict[str, Any]) -> str:
    where = str(item["module"])
    if item.get("plan"):
        where += f" @{item['plan']}"
    if item.get("language"):
        where += f" [{item['language']}]"
    return f"{where} {item['field']}"


def format_plan(run: Run) -> str:
    """The plan as a person reads it: `~` changes, `+` additions, `!` drift."""
    plan = run.plan
    lines = [f"plan {run.run_id} for {run.offer} (product {run.product_id})"]
    for change in plan.get("changes", []):
        mark = "+" if change.get("old") is None else "~"
        old = "" if mark == "+" else f"{_value(change['old'])} -> "
        lines.append(f"  {mark} {_where(change)}: {old}{_value(change['new'])}")
    if not plan.get("changes"):
        lines.append("  no change")
    if plan.get("drift"):
        lines.append("drift: edited in Partner Center since it went live:")
        for item in plan["drift"]:
            then = f" (this plan sets {_value(item['planned'])})" if "planned" in item else ""
            lines.append(
                f"  ! {_where(item)}: live {_value(item['live'])}, "
                f"draft {_value(item['draft'])}{then}"
            )
    for why in plan.get("refused", []):
        lines.append(f"would be refused: {why}")
    if flight := plan.get("inFlight"):
        lines.append(f"submission {flight['submissionId']} is in flight ({flight['status']})")
    if plan.get("truncated"):
        lines.append(f"({plan['truncated']} more not shown; see --json of a smaller file)")
    return "\n".join(map(one_line, lines))  # values from the service: one line each
