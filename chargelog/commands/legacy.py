"""`chargelog import-legacy mysql://user:password@host/mqtt`: the command line of the import
from the original openevse-mqtt-mysql logger (projector/legacy/importer.py does the work).

Order matters for "nothing half-written": the input is checked and the original database read
completely before chargelog's database is opened; then everything is written in one transaction
under the projector lock. Every failure is one line on stderr: exit 2 for what the user typed,
1 for a database that cannot be read or written. The password is never printed.
"""

from __future__ import annotations

import argparse
import sys

from chargelog.commands.options import add_wait_option
from journal.config import Config

BAD_INPUT = 2
FAILED = 1
NAME = "chargelog import-legacy"


def register(subparsers: argparse._SubParsersAction) -> None:
    sub = subparsers.add_parser(
        "import-legacy",
        help="import sessions, tariffs and payments from the original openevse-mqtt-mysql logger",
        description=(
            "Reads the original logger's energySession, tarif and versement tables (read-only) "
            "and adds them: sessions flagged `legacy`, tariffs and payments as they were. "
            "Running it again adds nothing. Without a password in the URL, "
            "$CHARGELOG_LEGACY_PASSWORD is used."
        ),
    )
    sub.add_argument("url", metavar="URL", help="mysql://USER:PASSWORD@HOST:PORT/DATABASE")
    sub.add_argument(
        "--charger",
        default="openevse",
        metavar="NAME",
        help="the charger the sessions were logged from (its MQTT base topic; default openevse)",
    )
    sub.add_argument(
        "--currency", default="EUR", metavar="CODE", help="of the prices and payments (EUR)"
    )
    add_wait_option(sub)
    sub.set_defaults(handler=cmd_import_legacy)


def cmd_import_legacy(args: argparse.Namespace, cfg: Config) -> int:
    from journal.amount_text import parse_currency
    from journal.config import site_zone
    from journal.migrate import ensure_schema
    from journal.storage import StorageError, open_store
    from projector.catchup import LockHeld, projector_lock
    from projector.legacy.importer import ImportOptions, import_legacy
    from projector.legacy.source import LegacySourceError, parse_legacy_url, read_legacy
    from projector.money.pricing import config_tariff

    charger = args.charger.strip()
    try:
        currency = parse_currency(args.currency)
        if not charger:
            raise ValueError("--charger needs a name (the original's base topic, e.g. openevse)")
        target = parse_legacy_url(args.url)
    except (ValueError, LegacySourceError) as exc:
        print(f"{NAME}: {exc}", file=sys.stderr)
        return BAD_INPUT
    try:
        data = read_legacy(target)
    except LegacySourceError as exc:
        print(f"{NAME}: {exc}", file=sys.stderr)
        return FAILED
    options = ImportOptions(
        source=target.redacted(),
        charger=charger,
        currency=currency,
        zone=site_zone(cfg.site.timezone),
        config_tariff=config_tariff(cfg.tariff),
    )
    try:
        with open_store(cfg.database.url) as store:
            ensure_schema(store, cfg.database.auto_migrate)
            with projector_lock(store, args.wait):
                report = import_legacy(store, data, options)
    except LockHeld as exc:
        print(f"{NAME}: {exc}", file=sys.stderr)
        return FAILED
    except StorageError as exc:
        print(f"{NAME}: nothing imported: database error: {exc}", file=sys.stderr)
        return FAILED
    for line in report.skipped():
        print(f"{NAME}: skipped {line}", file=sys.stderr)
    print(f"from {options.source}: {report.summary()}")
    if report.tariffs.added:
        print(
            "the tariffs changed: `chargelog project` re-prices the journal's sessions "
            "(the projector service does it by itself)"
        )
    return 0
