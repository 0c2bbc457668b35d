"""The one `chargelog` command: parses arguments and config, then hands over to a package."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence

from chargelog.commands import (
    demo,
    journal,
    legacy,
    money,
    projection,
    sealing,
    simulate,
    vehicles,
    web,
)
from journal.config import Config, ConfigError, load_config
from journal.migrate import SchemaError
from journal.segments import SegmentDamaged
from journal.storage import StorageError

log = logging.getLogger("chargelog")

Handler = Callable[[argparse.Namespace, Config], int]
# In the order `chargelog --help` lists them.
COMMAND_FAMILIES = (journal, sealing, projection, simulate, money, vehicles, legacy, web, demo)


def _setup_logging(verbosity: int) -> None:
    level = logging.DEBUG if verbosity >= 2 else logging.INFO
    # Under systemd the journal adds its own timestamps.
    fmt = "%(levelname)s %(name)s: %(message)s"
    if not os.environ.get("JOURNAL_STREAM"):
        fmt = "%(asctime)s " + fmt
    logging.basicConfig(level=level, format=fmt, stream=sys.stderr)
    # The driver logs every connection at INFO; keep its warnings, not its chatter.
    logging.getLogger("mysql.connector").setLevel(logging.WARNING)


def build_parser() -> argparse.ArgumentParser:
    """Every command's options (each family registers its own, with light imports only)."""
    parser = argparse.ArgumentParser(
        prog="chargelog", description="Log every OpenEVSE charging session from MQTT."
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="INI file (default: ./config.ini when it exists, else built-in defaults)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="-v prints every message received; -vv adds debug logging",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for family in COMMAND_FAMILIES:
        family.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    try:
        cfg = load_config(args.config)
        handler: Handler = args.handler
        return handler(args, cfg)
    except ConfigError as exc:
        print(f"chargelog: configuration error: {exc}", file=sys.stderr)
        return 2
    except (SchemaError, SegmentDamaged) as exc:
        # A damaged segment is never read as data: whatever met it stops here, with its line.
        print(f"chargelog: {exc}", file=sys.stderr)
        return 1
    except FileNotFoundError as exc:
        print(f"chargelog: {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    except StorageError as exc:
        # e.g. an unreachable database for a one-shot command, or missing privileges
        print(f"chargelog: database error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
