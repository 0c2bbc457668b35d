"""The one `chargelog` command: parses arguments and config, then hands over to a package."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence

from journal.config import Config, ConfigError, load_config
from journal.migrate import SchemaError

log = logging.getLogger("chargelog")

Handler = Callable[[argparse.Namespace, Config], int]


def _setup_logging(verbosity: int) -> None:
    level = logging.DEBUG if verbosity >= 2 else logging.INFO
    # Under systemd the journal adds its own timestamps.
    fmt = "%(levelname)s %(name)s: %(message)s"
    if not os.environ.get("JOURNAL_STREAM"):
        fmt = "%(asctime)s " + fmt
    logging.basicConfig(level=level, format=fmt, stream=sys.stderr)


def cmd_migrate(args: argparse.Namespace, cfg: Config) -> int:
    from journal.migrate import current_version, migrate
    from journal.storage import open_store

    with open_store(cfg.database.url) as store:
        applied = migrate(store)
        version = current_version(store)
    for step in applied:
        print(f"applied {step.version:04d}_{step.name}")
    print(f"schema at version {version}" + ("" if applied else " (nothing to do)"))
    return 0


def cmd_record(args: argparse.Namespace, cfg: Config) -> int:
    from journal.recorder import run_recorder

    return run_recorder(cfg, verbose=args.verbose >= 1)


def cmd_import(args: argparse.Namespace, cfg: Config) -> int:
    from journal.importer import import_files
    from journal.migrate import ensure_schema
    from journal.storage import open_store

    with open_store(cfg.database.url) as store:
        ensure_schema(store, cfg.database.auto_migrate)
        report = import_files(store, args.files, show_progress=sys.stderr.isatty())
    for name, number, reason in report.skipped:
        print(f"{name}:{number}: skipped: {reason}", file=sys.stderr)
    print(
        f"imported {report.added} new message(s) from {report.lines} line(s); "
        f"{report.already} already in the journal; {len(report.skipped)} line(s) skipped"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
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

    sub = commands.add_parser("migrate", help="create or upgrade the database tables")
    sub.set_defaults(handler=cmd_migrate)

    sub = commands.add_parser("record", help="run the recorder: MQTT -> journal")
    sub.set_defaults(handler=cmd_record)

    sub = commands.add_parser("import", help="backfill the journal from mosquitto_sub output")
    sub.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="files of '<unix-time> <topic> <payload>' lines; - for stdin",
    )
    sub.set_defaults(handler=cmd_import)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
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
    except SchemaError as exc:
        print(f"chargelog: {exc}", file=sys.stderr)
        return 1
    except FileNotFoundError as exc:
        print(f"chargelog: {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
