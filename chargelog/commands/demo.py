"""`chargelog demo`: everything working at once, with no server to install.

A fresh SQLite database (in a temporary folder unless --db says where) gets three months of
simulated traffic from three chargers on different firmware (5.x, 2.x and 4.0), with the reference's
situations injected (pauses, faults, a reboot, gaps, junk, duplicates, retained replays), a
day/night tariff and a payment; the projector replays and prices it and the web page serves it
until Ctrl-C.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from journal.config import Config, DatabaseConfig, WebConfig, site_zone

if TYPE_CHECKING:  # the handler imports them: building the parser stays cheap
    from journal.entries import Row
    from journal.storage import Store
    from simulator.model import SimMessage, SimulationSpec

DAYS = 91
BATCH = 20_000
# Thinner than the firmware (a dump every 110 s while idle, telemetry every 60 s while charging)
# so three months take seconds, not minutes; both stay under the projector's 120 s gap threshold.
IDLE_DUMP_S = 110.0
TELEMETRY_S = 60.0


def register(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser(
        "demo", help="simulate three months of three chargers, project them, serve the page"
    )
    sub.add_argument("--db", metavar="PATH", help="SQLite file to create (default: a temp folder)")
    sub.add_argument("--host", help="address to listen on (default [web] host, 127.0.0.1)")
    sub.add_argument("--port", type=int, help="port (default [web] port, 8080)")
    sub.add_argument("--days", type=float, default=DAYS, help=argparse.SUPPRESS)
    sub.add_argument("--no-serve", action="store_true", help="build the database, do not serve")
    sub.set_defaults(handler=cmd_demo)


def demo_spec(days: float, now: datetime) -> SimulationSpec:
    from simulator.model import SimulationSpec, parse_faults
    from simulator.traffic import default_chargers

    end = datetime(now.year, now.month, now.day, tzinfo=UTC)
    return SimulationSpec(
        chargers=default_chargers(3, ["5.x", "2.x", "4.0"], seed=3),
        start=end - timedelta(days=days),
        days=days,
        seed=3,
        faults=parse_faults("all"),
        idle_dump_interval=IDLE_DUMP_S,
        telemetry_interval=TELEMETRY_S,
    )


def _batches(messages: Iterator[SimMessage]) -> Iterator[list[Row]]:
    from journal.entries import micros_text

    batch: list[Row] = []
    for message in messages:
        stamp = micros_text(round(message.ts * 1_000_000))
        batch.append((stamp, message.topic, message.payload, 0, int(message.retained)))
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def add_demo_money(store: Store, spec: SimulationSpec, zone: tzinfo) -> None:
    """A tariff with a cheaper night band from the first day, and one payment half-way, so the
    costs, the balance and the statements have something to show."""
    from projector.money.parsing import parse_band
    from projector.money.store import Payment, add_payment, add_tariff
    from projector.money.tariffs import Tariff

    first = spec.start.astimezone(zone).date()
    night = parse_band("all 22:00-06:00 0.1696")
    add_tariff(
        store, Tariff(0, first, Decimal("0.2516"), bands=(night,), note="demo: day and night")
    )
    half_way = first + timedelta(days=int(spec.days) // 2)
    add_payment(store, Payment(0, half_way, Decimal("25.00"), note="demo: a transfer"))
    store.commit()


def build(
    store: Store, spec: SimulationSpec, show_progress: bool, zone: tzinfo | None = None
) -> tuple[int, int]:
    """Fill the journal, add the demo's money and project it; returns (journal rows, plug-in
    sessions). `zone` is the site's (default: the machine's)."""
    from tqdm import tqdm

    from journal import entries
    from journal.migrate import migrate
    from projector.runner import project_pass
    from simulator.traffic import simulate

    zone = zone if zone is not None else site_zone("")
    migrate(store)
    add_demo_money(store, spec, zone)
    total = 0
    with tqdm(
        desc="simulating", unit=" messages", unit_scale=True, disable=not show_progress
    ) as bar:
        for batch in _batches(simulate(spec).messages()):
            entries.append(store, batch)
            store.commit()
            total += len(batch)
            bar.update(len(batch))
    project_pass(store, zone=zone)
    row = store.query_one("SELECT COUNT(*) FROM plugin_session")
    store.rollback()
    return total, int(row[0]) if row else 0


def cmd_demo(args: argparse.Namespace, cfg: Config) -> int:
    from journal.storage import open_store

    folder = None
    if args.db:
        path = Path(args.db)
        if path.exists():
            print(f"chargelog: {path} exists; the demo creates a fresh database", file=sys.stderr)
            return 2
    else:
        folder = Path(tempfile.mkdtemp(prefix="chargelog-demo-"))
        path = folder / "demo.db"
    url = f"sqlite:///{path.resolve()}"
    web = dataclasses.replace(
        cfg.web, host=args.host or cfg.web.host, port=args.port or cfg.web.port
    )
    demo_cfg = dataclasses.replace(cfg, database=DatabaseConfig(url=url), web=web)
    try:
        print(f"building the demo database {path} ...", file=sys.stderr)
        with open_store(url) as store:
            rows, sessions = build(
                store,
                demo_spec(args.days, datetime.now(UTC)),
                sys.stderr.isatty(),
                site_zone(cfg.site.timezone),
            )
        print(f"{rows:,} journal entries, {sessions} plug-in sessions", file=sys.stderr)
        if args.no_serve:
            return 0
        return _serve(demo_cfg, web)
    finally:
        if folder is not None and not args.no_serve:
            shutil.rmtree(folder, ignore_errors=True)


def _serve(cfg: Config, web: WebConfig) -> int:
    from waitress.server import create_server  # the same function; the stubs know it here

    from webapp import create_app

    server = create_server(create_app(cfg), host=web.host, port=web.port)
    port = server.effective_port  # type: ignore[union-attr]  # one address: a TcpWSGIServer; no stub
    print(
        f"chargelog demo: open http://{web.host}:{port}/  (Ctrl-C stops)",
        flush=True,
    )
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0
