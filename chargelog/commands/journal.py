"""The journal's commands: `chargelog migrate`, `chargelog record`, `chargelog import`."""

from __future__ import annotations

import argparse
import sys

from journal.config import Config


def register(commands: argparse._SubParsersAction) -> None:
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
