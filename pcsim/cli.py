"""The simulator's command line: `python -m pcsim`, and `pcpub simulator`, which is the same."""

from __future__ import annotations

import argparse
from typing import Any


def add_arguments(parser: Any) -> None:
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--seed", help="seed JSON file (default: built-in sample offers)")
    parser.add_argument("--profile", choices=["fast", "realistic"], default="fast")
    parser.add_argument("--write-config", help="write the JSON that clients drive it with")
    parser.add_argument("--state-dir", help="where the generated CA and certificate go")
    parser.add_argument("--token-lifetime", type=int, default=3600)
    parser.add_argument(
        "--contract", help="the OpenAPI document: check every answer against it (/_admin/contract)"
    )
    parser.add_argument(
        "--blob-connection-string",
        help="a blob store (Azurite) for package uploads: fileSasUri is then a real SAS there",
    )


def run(args: argparse.Namespace) -> int:
    from pcsim.server import serve

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
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pcsim",
        description="The Partner Center ingestion API, with Entra ID and Key Vault stand-ins.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
