"""pcpub: the one command for operators and other systems.

pcpub simulator   run the Partner Center simulator with its Entra and Key Vault stand-ins
pcpub host        run the function app's functions against Azurite (the local functions host)
pcpub up          run the whole local stack until interrupted
pcpub demo        publish sample offers (Azure Application, Business Central) to live locally
pcpub enqueue     send a publish request
pcpub status      a run's state and timeline, by request id
pcpub runs        list runs
pcpub poison      list dead letters, re-drive them, or drop one that can never work
pcpub release     send (and follow), show or re-drive a release of many offers
pcpub approve     approve a go-live (a run or a release); pcpub reject refuses it
pcpub cancel      stop a run or a release at its next step
pcpub pause       hold everything (or one offer); pcpub resume lets it go on
pcpub report      a run, or every run of a release, as a timeline page
pcpub export      write an offer out as a request file (offer as code)
pcpub plan        what a request file would change, before it is made (exit 2: changes)
pcpub apply       send a request file as a publish to preview or live
pcpub budget      the tenant's Partner Center call budget: its rate, the last 429, calls held
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from pcpub import budget_cli, code_cli, stack_cli
from pcpub.argtypes import json_object, offer_ref, run_id
from pcpub.control_cli import handlers, register
from pcsim.cli import whole_number
from shared.runs import RunStatus


def _storage_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--connection-string",
        help="storage connection string (default: $AzureWebJobsStorage, or "
        "the file given with --config)",
    )
    parser.add_argument("--config", help="the JSON written by `pcpub up --write-config`")
    parser.add_argument(
        "--account",
        help="a storage account (name or URL), reached with your own "
        "Entra sign-in (accounts without shared keys)",
    )


def _configured(path: str) -> str:
    """The storage connection string in a file written by `pcpub up --write-config`."""
    value = json_object(path, "--config").get("storageConnectionString")
    if not isinstance(value, str) or not value:
        raise SystemExit(
            f"pcpub: --config {path} has no storageConnectionString "
            "(write it with `pcpub up --write-config`)"
        )
    return value


def _storage(args: argparse.Namespace) -> Any:
    from pcpub.ops import Storage

    if args.account and not (args.connection_string or args.config):
        return Storage(account=args.account)
    conn = args.connection_string
    if not conn and args.config:
        conn = _configured(args.config)
    conn = conn or os.environ.get("AzureWebJobsStorage")
    if not conn:
        raise SystemExit(
            "pcpub: no storage: give --connection-string, --config or --account, "
            "or set AzureWebJobsStorage"
        )
    try:
        return Storage(conn)
    except ValueError as exc:  # the SDK's reason, without the string (it holds the key)
        raise SystemExit(f"pcpub: not a storage connection string: {exc}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pcpub", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    stack_cli.register(sub)

    enq = sub.add_parser("enqueue", help="send a publish request (JSON file, or - for stdin)")
    enq.add_argument("file")
    _storage_args(enq)

    status = sub.add_parser("status", help="a run's state and timeline")
    status.add_argument("request_id", type=run_id)
    status.add_argument("--json", action="store_true")
    _storage_args(status)

    runs = sub.add_parser("runs", help="list runs, a page at a time (filtered by the service)")
    runs.add_argument("--offer", type=offer_ref, help="an offer id or a product GUID")
    runs.add_argument("--state", choices=[str(s) for s in RunStatus])
    runs.add_argument(
        "--limit", type=whole_number(1, 1000), default=50, help="runs per page (1 to 1000)"
    )
    runs.add_argument("--page", help="the token a previous page printed, for the next one")
    runs.add_argument("--archived", action="store_true", help="runs that ended long ago")
    runs.add_argument("--json", action="store_true")
    _storage_args(runs)

    poison = sub.add_parser("poison", help="poison queues")
    poison.add_argument("action", choices=["list", "redrive", "drop"])
    poison.add_argument("ids", nargs="*", help="message ids (redrive: only these; drop: required)")
    _storage_args(poison)
    register(sub, _storage_args)
    code_cli.register(sub, _storage_args)
    budget_cli.register(sub, _storage_args)
    return parser


def main(argv: list[str] | None = None) -> int:
    from azure.core.exceptions import AzureError

    args = build_parser().parse_args(argv)
    handler = {
        **COMMANDS,
        **handlers(_storage),
        **code_cli.handlers(_storage),
        **budget_cli.handlers(_storage),
    }[args.command]
    try:
        return handler(args)
    except AzureError as exc:  # a stale --config, a stopped stack, no sign-in: one line
        print(f"pcpub: {storage_failure(exc)}", file=sys.stderr)
        return 1


def storage_failure(exc: Exception) -> str:
    """What went wrong talking to storage, in one bounded line (the SDK's first line: the
    endpoint and the cause, never a key)."""
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
    if isinstance(exc, ClientAuthenticationError):
        return f"not signed in to the storage account: {first}"
    if isinstance(exc, HttpResponseError):
        return f"the storage account refused ({exc.status_code}): {first}"
    return f"cannot reach the storage account: {first}"


def _enqueue(args: argparse.Namespace) -> int:
    from azure.core.exceptions import AzureError

    from pcpub.argtypes import TooLarge, read_bounded
    from pcpub.ops import send_request
    from shared.publish_request import RequestRejected

    try:
        body = read_bounded(args.file)
    except OSError as exc:
        print(f"pcpub: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    except TooLarge as exc:
        print(f"pcpub: not sent: {exc}", file=sys.stderr)
        return 2
    try:
        request, before = send_request(_storage(args), body)
    except RequestRejected as exc:
        print(f"pcpub: not sent: {exc.reason}", file=sys.stderr)
        return 2
    except AzureError as exc:  # storage unreachable, refused, ...: one line, no traceback
        print(f"pcpub: not sent: {storage_failure(exc)}", file=sys.stderr)
        return 1
    print(f"enqueued {request.request_id}")
    if before is not None:  # a retried job: say that nothing new runs
        print(
            f"pcpub: {request.request_id} was sent before (its run is {before.status} at "
            f"{before.stage}): this copy is a duplicate; a new requestId publishes again",
            file=sys.stderr,
        )
    return 0


def _status(args: argparse.Namespace) -> int:
    from pcpub.ops import (
        dumps,
        format_status,
        incident_line,
        no_run,
        open_incident,
        status_dict,
        usual_wait,
    )

    storage = _storage(args)
    incident = open_incident(storage)
    run = storage.ledger.get(args.request_id)
    if run is None:
        print(no_run(storage, args.request_id, "pcpub release status {}"), file=sys.stderr)
        return 1
    from pcpub.controls import pauses

    held = [p.describe() for p in pauses(storage)]
    usual = usual_wait(storage, run)
    throttled = budget_cli.held_line(storage) if run.status in LIVE else None
    if args.json:
        extra = {"incident": incident, "pauses": held, "throttled": throttled}
        print(dumps({**status_dict(run, usual), **extra}))
    else:
        if incident:
            print(incident_line(incident))
        for line in held:
            print(f"PAUSED: {line} (pcpub resume)")
        if throttled:
            print(throttled)
        print(format_status(run, usual=usual))
    return 0


LIVE = (RunStatus.RUNNING, RunStatus.WAITING)  # runs a throttled tenant holds


def _runs(args: argparse.Namespace) -> int:
    from pcpub.ops import dumps, incident_line, open_incident, status_dict

    storage = _storage(args)
    try:
        page = storage.ledger.page(
            status=args.state,
            offer=args.offer,
            limit=args.limit,
            token=args.page,
            archived=args.archived,
        )
    except ValueError as exc:
        print(f"pcpub: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(dumps({"runs": [status_dict(r) for r in page.runs], "next": page.next}))
        return 0
    if incident := open_incident(storage):
        print(incident_line(incident))
    for run in page.runs:
        print(f"{run.run_id:<40} {run.status:<10} {run.stage:<15} {run.offer}")
    if not page.runs:  # said on stderr: the listing itself stays empty for scripts
        where = "archived runs" if args.archived else "runs"
        print(f"pcpub: no {where}{_matching(args)}", file=sys.stderr)
    if page.next:
        print(f"more: pcpub runs --page {page.next} (with the same filters)")
    return 0


def _matching(args: argparse.Namespace) -> str:
    """What a `pcpub runs` listing was filtered by, in words."""
    filters = (("state", args.state), ("offer", args.offer))
    said = [f"{name} {value}" for name, value in filters if value]
    return f" with {' and '.join(said)}" if said else ""


def _poison(args: argparse.Namespace) -> int:
    from pcpub.ops import dumps
    from pcpub.poison import backlog, drop, poison_messages, redrive

    storage = _storage(args)
    if args.action == "list":
        print(dumps(poison_messages(storage)))
        for queue, count in backlog(storage).items():
            print(
                f"pcpub: {queue} holds about {count} messages; the 32 oldest are listed",
                file=sys.stderr,
            )
    elif args.action == "redrive":
        # A typo re-drives nothing rather than part of what was meant (listed only for ids).
        listed = {str(m["id"]) for m in poison_messages(storage)} if args.ids else set()
        if unknown := set(args.ids) - listed:
            print(f"pcpub: no open dead letter {', '.join(sorted(unknown))}", file=sys.stderr)
            return 1
        print(f"re-drove {redrive(storage, set(args.ids) or None)} message(s)")
    else:
        if not args.ids:
            print("pcpub: poison drop needs the ids of the dead letters to drop", file=sys.stderr)
            return 2
        missing = [i for i in args.ids if not drop(storage, i)]
        if missing:
            print(f"pcpub: no open dead letter {', '.join(missing)}", file=sys.stderr)
            return 1
        print(f"dropped {len(args.ids)} dead letter(s)")
    return 0


COMMANDS = {
    **stack_cli.HANDLERS,
    "enqueue": _enqueue,
    "status": _status,
    "runs": _runs,
    "poison": _poison,
}


if __name__ == "__main__":
    sys.exit(main())
