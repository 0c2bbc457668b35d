"""The projection's commands: `chargelog project`, `chargelog projector` (the service) and
`chargelog sessions`."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from chargelog.commands.options import add_wait_option, parse_date
from journal.config import Config

if TYPE_CHECKING:
    from journal.storage import Store


def register(commands: argparse._SubParsersAction) -> None:
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
    add_wait_option(sub)
    sub.set_defaults(handler=cmd_project)

    sub = commands.add_parser(
        "projector", help="run the projector service (a pass every [projector] interval)"
    )
    sub.set_defaults(handler=cmd_projector)

    sub = commands.add_parser("sessions", help="list plug-in sessions with their cycles")
    sub.add_argument(
        "--from",
        dest="date_from",
        type=parse_date,
        metavar="DATE",
        help="first local day (YYYY-MM-DD)",
    )
    sub.add_argument(
        "--to", dest="date_to", type=parse_date, metavar="DATE", help="last local day, inclusive"
    )
    sub.add_argument("--charger", metavar="NAME", help="only this charger (its MQTT base topic)")
    sub.add_argument("--format", choices=("table", "csv", "json"), default="table")
    sub.set_defaults(handler=cmd_sessions)


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
    from journal.migrate import ensure_schema
    from journal.storage import open_store
    from projector.catchup import LockHeld, projector_lock

    with open_store(cfg.database.url) as store:
        ensure_schema(store, cfg.database.auto_migrate)
        try:
            with projector_lock(store, args.wait):
                line = _replay(store, args, cfg)
        except LockHeld as exc:
            print(f"chargelog: {exc}", file=sys.stderr)
            return 1
    print(line)
    return 0


def _replay(store: Store, args: argparse.Namespace, cfg: Config) -> str:
    """The pass (or the rebuild) `chargelog project` asked for, under the lock; returns the line
    that says what it did."""
    from journal.config import site_zone
    from journal.reader import last_seq
    from projector.catchup import project_or_rebuild
    from projector.money.pricing import config_tariff
    from projector.rebuild import rebuild
    from projector.runner import LIVE
    from projector.tables import read_checkpoint

    zone, tariff = site_zone(cfg.site.timezone), config_tariff(cfg.tariff)
    names = cfg.chargers.display_names()
    whole = args.rebuild or args.dry_run
    checkpoint = read_checkpoint(store, LIVE)
    start = 0 if whole or checkpoint is None else checkpoint.position
    store.rollback()
    with _progress_bar(max(0, last_seq(store) - start), "replaying") as bar:
        if whole:
            result, diff = rebuild(
                store,
                dry_run=args.dry_run,
                progress=bar.update,
                zone=zone,
                config_tariff=tariff,
                names=names,
            )
            verb = "would change" if args.dry_run else "changed"
            return f"replayed {result.entries} journal entries; {verb}: {diff.summary()}"
        # A new projection logic or new tariffs: replay everything, as the service does.
        done = project_or_rebuild(
            store,
            progress=bar.update,
            zone=zone,
            config_tariff=tariff,
            names=names,
            on_rebuild=lambda reason: print(
                f"{reason}: rebuilding from the journal", file=sys.stderr
            ),
        )
    result = done.result
    if done.rebuilt is not None:
        return f"replayed {result.entries} journal entries; changed: {done.rebuilt.summary()}"
    return (
        f"projected {result.entries} journal entries up to position {result.position}: "
        f"{result.cycles_written} cycle rows and {result.plugins_written} session rows written"
    )


def cmd_projector(args: argparse.Namespace, cfg: Config) -> int:
    from projector.service import ProjectorService

    return ProjectorService(cfg).run()


def cmd_sessions(args: argparse.Namespace, cfg: Config) -> int:
    from journal.config import site_zone
    from journal.migrate import ensure_schema
    from journal.storage import open_store
    from projector.session_formats import as_csv, as_json, as_table
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
