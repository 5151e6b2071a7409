"""`pcpub`: the one command for operators and other systems (simulator, local stack, demo,
enqueue, status, runs, poison)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pcpub", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser(
        "simulator",
        help="run the Partner Center simulator (with Entra and "
        "Key Vault stand-ins) in the foreground",
    )
    sim.add_argument("--port", type=int, default=0)
    sim.add_argument("--tls-cert")
    sim.add_argument("--tls-key")
    sim.add_argument("--seed", help="seed JSON file (default: built-in sample offers)")
    sim.add_argument("--profile", choices=["fast", "realistic"], default="fast")
    sim.add_argument("--write-config", help="write the JSON that clients drive it with")
    sim.add_argument("--state-dir", help="where the generated CA and certificate go")
    sim.add_argument("--token-lifetime", type=int, default=3600)

    args = parser.parse_args(argv)
    if args.command == "simulator":
        from pcpub.simulator.server import serve

        serve(
            port=args.port,
            seed_path=args.seed,
            profile=args.profile,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            write_config=args.write_config,
            state_dir=args.state_dir,
            token_lifetime=args.token_lifetime,
        )
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
