"""The one `chargelog` command: parses arguments and config, then hands over to a package."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from journal.config import Config, ConfigError, load_config
from journal.migrate import SchemaError
from journal.storage import StorageError

log = logging.getLogger("chargelog")

Handler = Callable[[argparse.Namespace, Config], int]


def _setup_logging(verbosity: int) -> None:
    level = logging.DEBUG if verbosity >= 2 else logging.INFO
    # Under systemd the journal adds its own timestamps.
    fmt = "%(levelname)s %(name)s: %(message)s"
    if not os.environ.get("JOURNAL_STREAM"):
        fmt = "%(asctime)s " + fmt
    logging.basicConfig(level=level, format=fmt, stream=sys.stderr)
    # The driver logs every connection at INFO; keep its warnings, not its chatter.
    logging.getLogger("mysql.connector").setLevel(logging.WARNING)


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


class _NoBar:
    """What the bar is off a terminal: tqdm's disabled bar still creates a multiprocessing lock
    (~10 ms), a tenth of replaying 100k entries."""

    def update(self, n: int = 1) -> None:
        pass

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def _progress_bar(total: int, desc: str) -> Any:
    """A tqdm bar over the journal positions left, on a terminal only."""
    if not sys.stderr.isatty():
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=" entries", unit_scale=True)


def cmd_project(args: argparse.Namespace, cfg: Config) -> int:
    from journal.config import site_zone
    from journal.entries import last_seq
    from journal.migrate import ensure_schema
    from journal.storage import open_store
    from projector.pricing import config_tariff
    from projector.rebuild import rebuild
    from projector.runner import LIVE, LOCK, VersionMismatch, project_pass
    from projector.tables import read_checkpoint

    with open_store(cfg.database.url) as store:
        ensure_schema(store, cfg.database.auto_migrate)
        if not store.try_lock(LOCK, args.wait):
            print(
                f"chargelog: another projector held the lock for {args.wait:g} s", file=sys.stderr
            )
            return 1
        try:
            checkpoint = read_checkpoint(store, LIVE)
            start = 0 if args.rebuild or args.dry_run or checkpoint is None else checkpoint.position
            store.rollback()
            pricing = {
                "zone": site_zone(cfg.site.timezone),
                "config_tariff": config_tariff(cfg.tariff),
            }
            with _progress_bar(max(0, last_seq(store) - start), "replaying") as bar:
                if args.rebuild or args.dry_run:
                    result, diff = rebuild(
                        store, dry_run=args.dry_run, progress=bar.update, **pricing
                    )
                    verb = "would change" if args.dry_run else "changed"
                    print(f"replayed {result.entries} journal entries; {verb}: {diff.summary()}")
                    return 0
                try:
                    result = project_pass(store, progress=bar.update, **pricing)
                except VersionMismatch as exc:
                    # A new projection logic or new tariffs: replay everything, as the service does.
                    print(f"{exc}: rebuilding from the journal", file=sys.stderr)
                    result, diff = rebuild(store, progress=bar.update, **pricing)
                    print(f"replayed {result.entries} journal entries; changed: {diff.summary()}")
                    return 0
        finally:
            store.unlock(LOCK)
    print(
        f"projected {result.entries} journal entries up to position {result.position}: "
        f"{result.cycles_written} cycle rows and {result.plugins_written} session rows written"
    )
    return 0


def cmd_projector(args: argparse.Namespace, cfg: Config) -> int:
    from projector.service import ProjectorService

    return ProjectorService(cfg).run()


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def cmd_sessions(args: argparse.Namespace, cfg: Config) -> int:
    from journal.config import site_zone
    from journal.migrate import ensure_schema
    from journal.storage import open_store
    from projector.output import as_csv, as_json, as_table
    from projector.sessions import SessionFilter, list_sessions, local_day_range

    zone = site_zone(cfg.site.timezone)
    start, end = local_day_range(args.date_from, args.date_to, zone)
    with open_store(cfg.database.url, read_only=False) as store:
        ensure_schema(store, cfg.database.auto_migrate)
        sessions = list_sessions(store, SessionFilter(start, end, args.charger))
    if args.format == "json":
        sys.stdout.write(as_json(sessions))
    elif args.format == "csv":
        sys.stdout.write(as_csv(sessions))
    else:
        sys.stdout.write(as_table(sessions, zone))
    return 0


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or (with `command`) the common options and that command's."""
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

    sub = commands.add_parser("project", help="project new journal entries into sessions")
    sub.add_argument(
        "--rebuild",
        action="store_true",
        help="replay the whole journal into fresh tables and swap them in",
    )
    sub.add_argument(
        "--dry-run",
        action="store_true",
        help="with --rebuild: print what would change, change nothing",
    )
    sub.add_argument(
        "--wait",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how long to wait for a running projector (default 60)",
    )
    sub.set_defaults(handler=cmd_project)

    sub = commands.add_parser(
        "projector", help="run the projector service (a pass every [projector] interval)"
    )
    sub.set_defaults(handler=cmd_projector)

    sub = commands.add_parser("sessions", help="list plug-in sessions with their cycles")
    sub.add_argument(
        "--from", dest="date_from", type=_date, metavar="DATE", help="first local day (YYYY-MM-DD)"
    )
    sub.add_argument(
        "--to", dest="date_to", type=_date, metavar="DATE", help="last local day, inclusive"
    )
    sub.add_argument("--charger", metavar="NAME", help="only this charger (its MQTT base topic)")
    sub.add_argument("--format", choices=("table", "csv", "json"), default="table")
    sub.set_defaults(handler=cmd_sessions)

    registrars = [_EXTERNAL[command]] if command in _EXTERNAL else []
    if command is None or command not in _INLINE | _EXTERNAL.keys():
        registrars = list(dict.fromkeys(_EXTERNAL.values()))  # all, once each, for help and errors
    for module, function in registrars:
        getattr(importlib.import_module(module), function)(commands)
    return parser


# The sub-commands other modules define: which function of which module registers each. Only the
# one being run is imported (every command starts without importing the others); `--help`, a
# mistyped command or none at all registers them all.
_EXTERNAL = {
    "simulate": ("projector.simulate_command", "add_parser"),
    "tariff": ("projector.money_command", "add_tariff_parser"),
    "payment": ("projector.money_command", "add_payment_parser"),
    "import-legacy": ("projector.legacy_command", "add_parser"),
    "serve": ("webapp.commands", "add_parser"),
    "passwd": ("webapp.commands", "add_parser"),
    "demo": ("webapp.demo", "add_parser"),
}
_INLINE = {"migrate", "record", "import", "project", "projector", "sessions"}


def _command_of(argv: Sequence[str]) -> str | None:
    """The sub-command named in argv: its first word that is not an option or --config's value."""
    words = iter(argv)
    for word in words:
        if word == "--config":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_command_of(argv))
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
    except StorageError as exc:
        # e.g. an unreachable database for a one-shot command, or missing privileges
        print(f"chargelog: database error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
