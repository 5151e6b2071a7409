"""`pcpub` commands that run the local stack and its parts (the handlers behind pcpub.cli):
simulator, host, up, demo."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pcpub.argtypes import json_object
from pcsim import cli as simulator_cli
from pcsim.cli import file_to_write


def register(sub: Any) -> None:
    simulator_cli.add_arguments(
        sub.add_parser("simulator", help="run the Partner Center simulator")
    )

    host = sub.add_parser("host", help="run the function app against Azurite")
    host.add_argument("--app-dir", default=".")
    host.add_argument("--settings", help="local.settings.json whose Values are app settings")
    host.add_argument(
        "--lease-seconds",
        type=float,
        default=600.0,
        help="how long a dequeued message stays invisible (Azure: 600)",
    )
    host.add_argument(
        "--retry-seconds",
        type=float,
        help="wait before a failed message is tried again (default: host.json's)",
    )

    up = sub.add_parser("up", help="run the whole local stack until interrupted")
    up.add_argument(
        "--write-config",
        type=file_to_write,
        help="write endpoints, credentials and queue names here",
    )
    up.add_argument("--profile", choices=["fast", "realistic"], default="fast")
    up.add_argument(
        "--workdir",
        help="keep the logs and data here (default: a temporary directory, removed at stop)",
    )
    up.add_argument(
        "--hosts",
        type=simulator_cli.whole_number(1, 16),
        default=1,
        help="instances of the function app on the one stack (1 to 16)",
    )

    demo = sub.add_parser("demo", help="publish sample offers to live on the local stack")
    demo.add_argument("--profile", choices=["fast", "realistic"], default="fast")
    demo.add_argument("--offer", help="Azure Application offer id from the simulator's seed")
    demo.add_argument("--timeout", type=float, default=300.0)
    demo.add_argument(
        "--release", action="store_true", help="a release of four offers, approved, then live"
    )


def _stop_on_terminate() -> None:
    """SIGTERM acts like Ctrl-C (so the stack's children are stopped), once: a second signal
    during the clean-up must not cut it short."""

    def interrupt(*_: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _values(path: str) -> dict[str, str]:
    """The app settings in a local.settings.json (its `Values`), or one line saying why not."""
    values = json_object(path, "--settings").get("Values", {})
    if not isinstance(values, dict):
        raise SystemExit(f"pcpub: the Values of --settings {path} are not an object of settings")
    return {str(k): str(v) for k, v in values.items()}


def _host(args: argparse.Namespace) -> int:
    from pcpub import logs
    from pcpub.host.runtime import LocalHost

    if args.settings:
        os.environ.update(_values(args.settings))
    logs.redact(os.environ.get("VAULT_CLIENT_SECRET"))
    logs.configure("host")
    try:
        host = LocalHost(
            Path(args.app_dir).resolve(),
            lease_seconds=args.lease_seconds,
            retry_seconds=args.retry_seconds,
            restart=_start_again,
        )
        signal.signal(signal.SIGTERM, lambda *_: host.stop(timeout=0))
        host.start()
    except ValueError as exc:
        raise SystemExit(f"pcpub host: {exc}") from None
    with contextlib.suppress(KeyboardInterrupt):
        host.wait()
    host.stop()
    return 0


def _start_again() -> None:
    """The worker restarts after a function timeout: this process, as it was started (the
    same id, so a supervisor sees the instance carry on, as Azure's host does)."""
    import logging

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(sys.executable, sys.orig_argv)
    finally:  # not started again: end, for a supervisor to start the instance afresh
        os._exit(70)


def _up(args: argparse.Namespace) -> int:
    from pcpub.stack import LocalStack
    from pcsim.server import write_json_atomic

    stack = LocalStack(
        Path(args.workdir) if args.workdir else None, profile=args.profile, hosts=args.hosts
    )
    _stop_on_terminate()
    stack.start()
    try:
        info = stack.describe()
        if args.write_config:
            write_json_atomic(args.write_config, info)
        print(
            json.dumps(
                {
                    k: info[k]
                    for k in (
                        "ingestionBaseUrl",
                        "adminUrl",
                        "publishRequestQueue",
                        "eventsQueue",
                        "appSettingsPath",
                        "workdir",
                    )
                },
                indent=2,
            )
        )
        print("local stack is up; Ctrl-C stops it", flush=True)
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
        if stack.owns_workdir:
            print(f"stopped; removed {stack.workdir} (--workdir keeps the logs)", file=sys.stderr)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from pcpub.demo import run_demo

    _stop_on_terminate()
    try:
        return run_demo(
            profile=args.profile, timeout=args.timeout, offer=args.offer, release=args.release
        )
    except KeyboardInterrupt:
        print("interrupted; everything the demo started is stopped", file=sys.stderr)
        return 130


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "simulator": simulator_cli.run,
    "host": _host,
    "up": _up,
    "demo": _demo,
}
