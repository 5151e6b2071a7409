"""The simulator's command line: `python -m pcsim`, and `pcpub simulator`, which is the same."""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def whole_number(low: int, high: int) -> Any:
    """An argparse type: a whole number within bounds (a port, a lifetime, a count)."""

    def check(text: str) -> int:
        if not text.isdecimal() or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(f"a whole number from {low} to {high}, not {text!r}")
        return int(text)

    return check


def file_to_write(text: str) -> str:
    """An argparse type: a file to write (its folder is made if missing), not a directory:
    refused before anything starts."""
    if Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text[:200]!r} is a directory, not a file")
    return text


def add_arguments(parser: Any) -> None:
    parser.add_argument("--port", type=whole_number(0, 65535), default=0, help="0: any free port")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--seed", help="seed JSON file (default: built-in sample offers)")
    parser.add_argument("--profile", choices=["fast", "realistic"], default="fast")
    parser.add_argument(
        "--write-config", type=file_to_write, help="write the JSON that clients drive it with"
    )
    parser.add_argument("--state-dir", help="where the generated CA and certificate go")
    parser.add_argument("--token-lifetime", type=whole_number(1, 86400), default=3600)
    parser.add_argument(
        "--contract", help="the OpenAPI document: check every answer against it (/_admin/contract)"
    )
    parser.add_argument(
        "--blob-connection-string",
        help="a blob store (Azurite) for package uploads: fileSasUri is then a real SAS there",
    )


def run(args: argparse.Namespace) -> int:
    with stops_cleanly():
        return _serve(args)


def _serve(args: argparse.Namespace) -> int:
    from pcsim.server import serve

    try:
        serve(
            port=args.port,
            seed_path=args.seed,
            profile=args.profile,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            write_config=args.write_config,
            state_dir=args.state_dir,
            token_lifetime=args.token_lifetime,
            contract=args.contract,
            blob_connection_string=args.blob_connection_string,
        )
    except OSError as exc:  # a port taken or not ours, a file missing: one line
        where = exc.filename or f"port {args.port}"
        raise SystemExit(f"pcsim: cannot start: {where}: {exc.strerror or exc}") from None
    except ValueError as exc:  # a seed or a certificate that is not what it should be
        raise SystemExit(f"pcsim: cannot start: {str(exc)[:300]}") from None
    return 0


@contextlib.contextmanager
def stops_cleanly() -> Iterator[None]:
    """While the simulator runs: a stop asked for (Ctrl-C, or SIGTERM from whoever started
    it, before the server takes the signal or as it hands it back) ends it as a normal exit,
    so that what it made is removed. The signals' handlers are put back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {stop: signal.signal(stop, _stopped) for stop in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for stop, handler in previous.items():
            signal.signal(stop, handler)


def _stopped(signum: int, frame: object) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pcsim",
        description="The Partner Center ingestion API, with Entra ID and Key Vault stand-ins.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
