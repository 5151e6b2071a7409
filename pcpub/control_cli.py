"""`pcpub` commands for releases and go-live control (the handlers behind pcpub.cli):

pcpub release send FILE [--wait preview|live]   send a release; follow it and gate a CI job
pcpub release status ID                         the release as a table of its offers
pcpub release redrive ID                        run its failed (and blocked) offers again
pcpub approve ID / pcpub reject ID              decide a go-live (a run, or a whole release)
pcpub cancel ID                                 stop a run or a release at its next step
  (approve, reject, cancel: --run or --release when the id names both)
pcpub pause [--offer X] / pcpub resume          hold everything (or one offer) / go on
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from pcpub.argtypes import (
    actor_name,
    note,
    offer_ref,
    out_file,
    plain,
    read_bounded,
    run_id,
    write_file,
)
from shared.wording import listed

Handler = Callable[[argparse.Namespace], int]
SHOWN = 10  # run ids named in one answer (a release's runs: `pcpub release status` lists all)


def actor() -> str:
    """Who is acting: as the CI system or the shell names them."""
    return (
        plain(
            os.environ.get("PCPUB_ACTOR")
            or os.environ.get("GITHUB_ACTOR")
            or os.environ.get("BUILD_REQUESTEDFOR")
            or os.environ.get("USER")
            or ""
        )
        or "operator"
    )


def register(sub: Any, storage_args: Callable[[argparse.ArgumentParser], None]) -> None:
    release = sub.add_parser("release", help="send, follow, show or re-drive a release")
    release.add_argument("action", choices=["send", "status", "redrive"])
    release.add_argument("target", help="send: the release JSON file (- for stdin); else its id")
    release.add_argument(
        "--wait",
        choices=["preview", "live"],
        help="send, status: follow it until every offer got there (exit 0), one failed (1), "
        "or --timeout (2)",
    )
    release.add_argument("--timeout", type=float, help="--wait: give up after this many seconds")
    release.add_argument("--json", action="store_true")
    release.add_argument("--by", type=actor_name, default=None)
    storage_args(release)
    for name, text in (
        ("approve", "approve the go-live of a run or a release"),
        ("reject", "reject the go-live of a run or a release"),
        ("cancel", "stop a run or a release at its next step"),
    ):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("target", type=run_id, help="a request id or a release id")
        cmd.add_argument(
            "--by", type=actor_name, help="who (default: $PCPUB_ACTOR, CI user, $USER)"
        )
        cmd.add_argument("--reason", type=note, default="", help="one line, kept with the runs")
        which = cmd.add_mutually_exclusive_group()
        for kind in ("run", "release"):
            which.add_argument(
                f"--{kind}",
                dest="only",
                action="store_const",
                const=kind,
                help=f"the id is a {kind}'s (when it names a release and a run)",
            )
        storage_args(cmd)
    for name, text in (
        ("pause", "hold every run (or one offer's) at its next Partner Center call"),
        ("resume", "lift a pause"),
    ):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument(
            "--offer", type=offer_ref, help="an offer id or product GUID (default: everything)"
        )
        cmd.add_argument("--reason", type=note, default="", help="one line, shown on held runs")
        cmd.add_argument("--by", type=actor_name)
        storage_args(cmd)
    report = sub.add_parser("report", help="a run, or every run of a release, as a timeline page")
    report.add_argument("target", nargs="?", type=run_id, help="a request id")
    report.add_argument("--release", type=run_id, help="a release id: every run of the release")
    report.add_argument("--html", required=True, type=out_file, help="the HTML file to write")
    storage_args(report)


def handlers(storage: Callable[[argparse.Namespace], Any]) -> dict[str, Handler]:
    from pcpub import controls, release_follow
    from shared.publish_request import RequestRejected

    def release(args: argparse.Namespace) -> int:
        if args.action != "send":
            try:
                run_id(args.target)
            except argparse.ArgumentTypeError as exc:
                print(f"pcpub: {exc}", file=sys.stderr)
                return 2
        store = storage(args)
        try:
            if args.action == "send":
                source = args.target
                body = read_bounded(source)
                request = release_follow.send_release(store, body)
                print(f"sent release {request.release_id} ({len(request.offers)} offers)")
                if args.wait:
                    return release_follow.follow(
                        store, request.release_id, args.wait, timeout=args.timeout
                    )
                return 0
            if args.action == "redrive":
                again = controls.redrive_release(store, args.target, args.by or actor())
                print(f"re-driving {len(again)} offer(s): {listed(again, SHOWN) or 'none failed'}")
                return 0
            view = release_follow.release_view(store, args.target)
            if args.wait:  # a later job follows what an earlier one sent
                return release_follow.follow(store, args.target, args.wait, timeout=args.timeout)
        except release_follow.NotFound:
            print(f"pcpub: no release {args.target}", file=sys.stderr)
            return 1
        except (OSError, ValueError, RequestRejected) as exc:
            # 1, as a release that failed: with --wait, 2 says it timed out (try again later)
            print(f"pcpub: not sent: {getattr(exc, 'reason', exc)}", file=sys.stderr)
            return 1
        if args.json:
            from pcpub.ops import dumps

            print(dumps(view))
        else:
            print(release_follow.format_release(view))
        return 0

    def decision(approve: bool) -> Handler:
        def run(args: argparse.Namespace) -> int:
            store = storage(args)
            word = "approved" if approve else "rejected"
            ahead: list[str] = []
            code = acted(
                args,
                store,
                lambda: controls.decide(
                    store,
                    args.target,
                    args.by or actor(),
                    approve=approve,
                    reason=args.reason,
                    only=args.only,
                    ahead=ahead,
                ),
                "decide",
                lambda n: f"{word} the go-live of {n} run(s)",
            )
            if ahead:  # a release's later offers: decided before anyone saw their preview
                then = "go live once in preview" if approve else "fail once in preview"
                print(f"not in preview yet, so they {then}: {listed(ahead, SHOWN)}")
            return code

        return run

    def cancel(args: argparse.Namespace) -> int:
        store = storage(args)
        return acted(
            args,
            store,
            lambda: controls.cancel(
                store, args.target, args.by or actor(), args.reason, only=args.only
            ),
            "cancel",
            lambda n: f"asked {n} run(s) to stop at their next step",
        )

    def pause(args: argparse.Namespace) -> int:
        store = storage(args)
        held = controls.pause(store, args.offer, args.by or actor(), args.reason)
        print(f"paused: {held.describe()}")
        if args.offer and not store.ledger.page(offer=args.offer, limit=1).runs:
            # A typo holds nothing that runs: say so (a pause ahead of the first run is fine).
            print(f"pcpub: note: no run of offer {args.offer} is recorded", file=sys.stderr)
        return 0

    def resume(args: argparse.Namespace) -> int:
        lifted = controls.resume(storage(args), args.offer)
        what = f"offer {args.offer}" if args.offer else "everything"
        print(f"resumed {what}" if lifted else f"{what} was not paused")
        return 0

    def report(args: argparse.Namespace) -> int:
        from pcpub.ops import incident_line, open_incident
        from pcpub.report import render
        from shared.releases import Releases

        store = storage(args)
        if args.release:
            found = Releases(store.ledger).get(args.release)
            if found is None:
                print(f"pcpub: no release {args.release}", file=sys.stderr)
                return 1
            members = Releases(store.ledger).runs(found)
            runs = [r for r in members.values() if r is not None]
            title = f"release {args.release}"
        else:
            if not args.target:
                print("pcpub: give a request id or --release", file=sys.stderr)
                return 1
            one = store.ledger.get(args.target)
            if one is None:
                from pcpub.ops import no_run

                print(
                    no_run(store, args.target, "pcpub report --release {} --html ..."),
                    file=sys.stderr,
                )
                return 1
            runs, title = [one], f"run {args.target}"
        notes = [f"PAUSED: {p.describe()}" for p in controls.pauses(store)]
        if incident := open_incident(store):
            notes.insert(0, incident_line(incident))
        write_file(args.html, render(title, runs, notes))
        print(f"wrote {args.html} ({len(runs)} run(s))")
        return 0

    return {
        "report": report,
        "release": release,
        "approve": decision(True),
        "reject": decision(False),
        "cancel": cancel,
        "pause": pause,
        "resume": resume,
    }


def acted(
    args: argparse.Namespace,
    store: Any,
    act: Callable[[], list[str]],
    action: str,
    said: Callable[[int], str],
) -> int:
    """Run a decision or a cancel on a run or a release and say what it did, or why it did
    nothing: exit 1 for no such id, 2 for an id that names both a release and a run."""
    from pcpub import controls, release_follow

    try:
        done = act()
    except release_follow.NotFound:
        print(f"pcpub: no {args.only or 'run or release'} {args.target}", file=sys.stderr)
        return 1
    except controls.Ambiguous as exc:
        print(
            f"pcpub: {args.target} names a release of {exc.offers} offer(s) and a single "
            f"request's run; nothing was changed: say which, pcpub {args.command} "
            f"{args.target} --release (or --run)",
            file=sys.stderr,
        )
        return 2
    if not done and (why := untouched(store, args.target, action, args.only)) is not None:
        return why
    print(said(len(done)) + (f": {listed(done, SHOWN)}" if done else ""))
    return 0


def untouched(storage: Any, target: str, action: str, only: str | None) -> int | None:
    """Why a decision or a cancel changed nothing on the run `target`, and the exit code: 1
    when it cannot apply (the run ended, or does not wait for an approval), 0 when it was
    already made (sending it again is fine); None for a release (its count says it)."""
    from shared.releases import Releases

    run = None if only == "release" else storage.ledger.get(target)
    if run is None or (only is None and Releases(storage.ledger).get(target) is not None):
        return None  # a release was acted on (beside the record of an earlier refusal)
    if run.status.terminal:
        print(f"pcpub: {target} already ended ({run.status}): nothing to change", file=sys.stderr)
        return 1
    made = run.cancel if action == "cancel" else run.approval
    if made:
        what = "asked to stop" if action == "cancel" else str(made.get("state"))
        print(f"{target} was already {what} by {made.get('by')} at {made.get('at')}")
        return 0
    print(f"pcpub: {target} does not wait for a go-live approval", file=sys.stderr)
    return 1
