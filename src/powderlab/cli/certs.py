"""`powderlab certs create`: the OPC UA application certificates a site uses (Basic256Sha256)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "certs",
        help="create OPC UA application certificates (docs/hardware.md)",
        description="Manage the certificates of OPC UA connections (Basic256Sha256 Sign / SignAndEncrypt).",
    )
    commands = parser.add_subparsers(dest="certs_command", required=True, metavar="SUBCOMMAND")
    create = commands.add_parser(
        "create",
        help="create a self-signed application certificate and its private key",
        description="Write OUT/NAME-cert.der and OUT/NAME-key.pem (mode 0600). Give the server's administrator the "
        "certificate to trust, and point the site profile's connection certificate / private_key at these files.",
    )
    create.add_argument("--out", default="certs", help="output folder (default: %(default)s)")
    create.add_argument("--name", default="powderlab-client", help="file name stem (default: %(default)s)")
    create.add_argument(
        "--uri", default="urn:powderlab:client", help="application URI in the certificate (default: %(default)s)"
    )
    create.add_argument("--host", action="append", default=[], help="DNS name in the certificate (repeatable)")
    create.add_argument("--days", type=int, default=825, help="validity in days (default: %(default)s)")
    create.add_argument("--force", action="store_true", help="replace existing files")
    create.set_defaults(handler=run_create)


def run_create(args: argparse.Namespace) -> int:
    from powderlab.core.errors import ValidationError
    from powderlab.drivers.real.certs import create_certificate

    try:
        pair = create_certificate(
            Path(args.out), args.name, args.uri, tuple(args.host) or ("localhost",), args.days, args.force
        )
    except FileExistsError as error:
        raise ValidationError("--out", str(error)) from None
    print(f"certificate  {pair.certificate}")
    print(f"private key  {pair.private_key}")
    print(f"application  {pair.application_uri}")
    print(f"sha256       {pair.fingerprint_sha256}")
    return 0
