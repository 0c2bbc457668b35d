"""Web page speed on MariaDB with ten years of sessions for three chargers.

    python bench/web.py                 # 10 years, 3 chargers, 200 requests per URL
    python bench/web.py --years 2 --requests 50

The history is built in two parts, both from the simulator: the older sessions come from the
ground truth of a ten-year simulation, written straight into `plugin_session` and
`energySession` (ten years of raw traffic would be about 200 million journal rows); the last 14
days are simulated message by message into the journal and projected, so a session detail page
reads real journal rows. Then the app (the production WSGI server, waitress, on 127.0.0.1) is
asked for `/`, a session detail page, the full `/sessions.csv`, `/api/totals`, `/balance` and
this month's statement, sequentially, and p50/p95 of
the response times are printed. Goal: p95 < 100 ms for `/` and the detail page.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
import urllib.request
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from journal import entries
from journal.config import Config, DatabaseConfig, site_zone
from journal.migrate import migrate
from journal.storage import Store, open_store
from projector.money.parsing import parse_band
from projector.money.pricing import Pricer
from projector.money.store import add_tariff
from projector.money.tariffs import Tariff
from projector.records import Cycle, Plugin
from projector.runner import LIVE, project_pass
from projector.tables import upsert
from simulator.traffic import (
    SimulationSpec,
    default_chargers,
    parse_faults,
    simulate,
)
from tests.services import free_port, mysql_database

US = 1_000_000
RECENT_DAYS = 14
HISTORY_IDS = 10**15
# Day and night prices, so every session has two cost parts to read and sum, as in real use.
TARIFF = Tariff(
    0, date(2000, 1, 1), Decimal("0.2516"), bands=(parse_band("all 22:00-06:00 0.1696"),)
)


def history(store: Store, years: float, now: datetime, pricer: Pricer) -> int:
    """Old sessions from the truth of a long simulation, written straight into the tables,
    priced as the projector prices a cycle (here as one increment over the whole cycle)."""
    recent_start = now - timedelta(days=RECENT_DAYS)
    spec = SimulationSpec(
        chargers=default_chargers(3, ["5.x", "4.1", "2.x"], seed=11),
        start=recent_start - timedelta(days=365 * years),
        days=365 * years,
        seed=11,
        faults=parse_faults("pause,fault"),
    )
    plugins, cycles = [], []
    next_id = HISTORY_IDS  # far above any journal position of the recent part
    for truth in simulate(spec).truth:
        if truth.unplugged_at is None:
            continue
        next_id += 1
        plugin = Plugin(
            id=next_id,
            charger=truth.charger,
            plugged_at=round(truth.plugged_at * US),
            last_connected_at=round(truth.unplugged_at * US),
            unplugged_at=round(truth.unplugged_at * US),
            energy_wh=truth.energy_wh,
            cycle_count=len(truth.cycles),
        )
        for real in truth.cycles:
            next_id += 1
            cycle = Cycle(
                id=next_id,
                charger=truth.charger,
                plugin_id=plugin.id,
                started_at=round(real.started_at * US),
                last_charging_at=round((real.ended_at or real.started_at) * US),
                ended_at=round((real.ended_at or real.started_at) * US),
                end_reason=real.end_reason,
                energy_wh=real.energy_wh,
            )
            pricer.add(
                cycle.costs, cycle.charger, cycle.started_at, cycle.ended_at, cycle.energy_wh
            )
            plugin.charging_us += cycle.duration_us()
            cycles.append(cycle)
        plugins.append(plugin)
    for start in range(0, len(plugins), 2000):
        upsert(store, LIVE, [], plugins[start : start + 2000], {})
    for start in range(0, len(cycles), 2000):
        upsert(store, LIVE, cycles[start : start + 2000], [], {})
    store.commit()
    return len(plugins)


def recent(store: Store, now: datetime) -> int:
    """The last two weeks as real traffic in the journal, projected."""
    day = datetime(now.year, now.month, now.day, tzinfo=UTC)
    spec = SimulationSpec(
        chargers=default_chargers(3, ["5.x", "4.1", "2.x"], seed=12),
        start=day - timedelta(days=RECENT_DAYS),
        days=RECENT_DAYS,
        seed=12,
        faults=parse_faults("all"),
    )
    batch: list[entries.Row] = []
    count = 0
    for message in simulate(spec).messages():
        stamp = entries.micros_text(round(message.ts * US))
        batch.append((stamp, message.topic, message.payload, 0, int(message.retained)))
        if len(batch) >= 20_000:
            entries.append(store, batch)
            store.commit()
            count += len(batch)
            batch.clear()
    entries.append(store, batch)
    store.commit()
    project_pass(store)
    return count + len(batch)


def timings(url: str, requests: int) -> tuple[float, float, int]:
    samples = []
    size = 0
    for _ in range(requests):
        started = time.perf_counter()
        with urllib.request.urlopen(url, timeout=60) as response:
            size = len(response.read())
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p95 = samples[max(0, round(0.95 * len(samples)) - 1)]
    return statistics.median(samples), p95, size


def fill(url: str, years: float) -> int:
    """Both parts of the history; returns the id of a recent session to ask the detail of."""
    now = datetime.now(UTC)
    with open_store(url) as store:
        migrate(store)
        started = time.perf_counter()
        tariff_id = add_tariff(store, TARIFF)
        rows = recent(store, now)
        old = history(store, years, now, Pricer([replace(TARIFF, id=tariff_id)], site_zone("")))
        total = store.query_one("SELECT COUNT(*) FROM plugin_session")
        detail = store.query_one(
            "SELECT id FROM plugin_session WHERE id < ? AND cycle_count > 0 "
            "ORDER BY energy_wh DESC LIMIT 1",
            (HISTORY_IDS,),
        )
        store.rollback()
    print(
        f"filled in {time.perf_counter() - started:.0f} s: {old:,} older sessions from the "
        f"truth, {rows:,} journal rows for the last {RECENT_DAYS} days; "
        f"{total[0] if total else 0:,} plug-in sessions in all"
    )
    return int(detail[0]) if detail else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=float, default=10.0)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    from waitress import create_server

    from webapp import create_app

    with mysql_database() as url:
        detail = fill(url, args.years)
        port = free_port()
        app = create_app(Config(database=DatabaseConfig(url=url)))
        server = create_server(app, host="127.0.0.1", port=port, threads=4)
        threading.Thread(target=server.run, daemon=True).start()
        try:
            base = f"http://127.0.0.1:{port}"
            print(f"{'URL':32} {'p50 ms':>8} {'p95 ms':>8} {'bytes':>10}")
            for path, count in (
                ("/", args.requests),
                (f"/sessions/{detail}", args.requests),
                ("/sessions.csv", max(5, args.requests // 10)),
                ("/api/totals", args.requests),
                ("/balance", args.requests),
                (f"/statements/{datetime.now(UTC):%Y-%m}", args.requests),
            ):
                timings(base + path, 3)  # warm up
                p50, p95, size = timings(base + path, count)
                print(f"{path:32} {p50:>8.1f} {p95:>8.1f} {size:>10,}", flush=True)
        finally:
            server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
