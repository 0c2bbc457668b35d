"""The projection's tables: rows from records, upserts, and the checkpoint, for a table set that
is either the live one or the `_next` one a rebuild fills before swapping it in."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from journal.entries import micros_text, stored_text
from journal.storage import Store, in_chunks, placeholders
from projector.money.costs import PRICED_SQL
from projector.records import Cycle, LedgerRow, Plugin
from projector.version import PROJECTOR_VERSION

US = 1_000_000
CHECKPOINT = "sessions"
TABLES = (
    "energySession",
    "plugin_session",
    "cycle_cost",
    "session_cost",
    "recorder_gap",
    "session_meter",
    "session_rfid",
    "meter_ledger",
    "projection_checkpoint",
)
# The original logger's energySession columns (after its id): chargelog's energySession keeps
# them first, so what read the original's table reads this one; legacy_session stores them as
# imported.
ORIGINAL_COLUMNS = ("tstamp", "value", "sdur", "carid", "status", "tarifid")
CYCLE_COLUMNS = (
    "id",
    *ORIGINAL_COLUMNS,
    "charger",
    "plugin_id",
    "started_at",
    "ended_at",
    "energy_wh",
    "counter_start",
    "counter_end",
    "peak_power_w",
    "end_reason",
    "flags",
    "projector_version",
)
# cycle_cost: one row per cycle and price it was charged at (cost_rows), keyed by the first four.
COST_COLUMNS = ("cycle_id", "tariff_id", "band", "price", "currency", "wh", "cost")
COST_KEY = COST_COLUMNS[:4]
PLUGIN_COLUMNS = (
    "id",
    "charger",
    "plugged_at",
    "unplugged_at",
    "energy_wh",
    "charging_s",
    "cycle_count",
    "flags",
    "projector_version",
)

METER_COLUMNS = ("plugin_id", "meter_start_wh", "meter_end_wh", "rollback_wh")
LEDGER_COLUMNS = (
    "id",
    "anchor_at",
    "charger",
    "rise_wh",
    "gap_wh",
    "rollback_wh",
    "reset_wh",
    "outside_wh",
)


@dataclass(frozen=True)
class Checkpoint:
    position: int
    machine_state: str
    projector_version: int
    updated_at: str | datetime  # as stored: SQLite text, a MariaDB datetime


@dataclass(frozen=True)
class TableSet:
    """The live tables (suffix "") or a rebuild's (suffix "_next")."""

    suffix: str = ""

    def name(self, table: str) -> str:
        return table + self.suffix


def _flags(flags: dict[str, int]) -> str:
    return json.dumps(flags, sort_keys=True, separators=(",", ":"))


def dominant_tariff(cycle: Cycle) -> int:
    """energySession.tarifid: the tariff that priced most of the cycle's energy (0 = none)."""
    if not cycle.costs:
        return 0
    key = max(cycle.costs, key=lambda k: (cycle.costs[k][0], k))
    return int(key.split("|", 1)[0])


def cost_rows(cycle: Cycle) -> list[tuple[Any, ...]]:
    rows = []
    for key, (wh, cost) in sorted(cycle.costs.items()):
        tariff_id, band, price, currency = key.split("|")
        rows.append((cycle.id, int(tariff_id), band, price, currency, wh, cost))
    return rows


def cycle_row(cycle: Cycle) -> tuple[Any, ...]:
    end = cycle.ended_at if cycle.ended_at is not None else cycle.last_charging_at
    return (
        cycle.id,
        end // US,
        round(cycle.energy_wh * 3600),
        cycle.duration_us() // US,
        1,
        0 if cycle.closed else 1,
        dominant_tariff(cycle),
        cycle.charger,
        cycle.plugin_id,
        micros_text(cycle.started_at),
        micros_text(cycle.ended_at) if cycle.ended_at is not None else None,
        round(cycle.energy_wh, 3),
        cycle.counter_start,
        cycle.counter_end,
        cycle.peak_power_w,
        cycle.end_reason,
        _flags(cycle.flags),
        PROJECTOR_VERSION,
    )


def plugin_row(plugin: Plugin, open_cycle: Cycle | None) -> tuple[Any, ...]:
    charging_us = plugin.charging_us
    if open_cycle is not None and open_cycle.plugin_id == plugin.id and not open_cycle.closed:
        charging_us += open_cycle.duration_us()
    return (
        plugin.id,
        plugin.charger,
        micros_text(plugin.plugged_at),
        micros_text(plugin.unplugged_at) if plugin.unplugged_at is not None else None,
        round(plugin.energy_wh, 3),
        charging_us // US,
        plugin.cycle_count,
        _flags(plugin.flags),
        PROJECTOR_VERSION,
    )


def meter_row(plugin: Plugin) -> tuple[Any, ...] | None:
    """session_meter's row of a plug-in session whose meter was read from its start."""
    if plugin.meter_start is None or plugin.meter_end is None:
        return None
    return (
        plugin.id,
        round(plugin.meter_start, 3),
        round(plugin.meter_end, 3),
        round(plugin.meter_rollback_wh, 3),
    )


def ledger_row(row: LedgerRow) -> tuple[Any, ...]:
    figures = (row.rise_wh, row.gap_wh, row.rollback_wh, row.reset_wh, row.outside_wh)
    return (row.id, micros_text(row.anchor_at), row.charger, *(round(v, 3) for v in figures))


def upsert(
    store: Store,
    tables: TableSet,
    cycles: Iterable[Cycle],
    plugins: Iterable[Plugin],
    open_cycles: dict[int, Cycle],
    gaps: dict[int, int] | None = None,
    ledger: Iterable[LedgerRow] = (),
) -> None:
    """Write touched records; the same record written twice leaves one identical row."""
    cycles, plugins = list(cycles), sorted(plugins, key=lambda p: p.id)
    cycle_rows = [cycle_row(c) for c in sorted(cycles, key=lambda c: c.id)]
    plugin_rows = [plugin_row(p, open_cycles.get(p.id)) for p in plugins]
    if cycle_rows:
        store.executemany(
            store.upsert_sql(tables.name("energySession"), CYCLE_COLUMNS, "id"), cycle_rows
        )
    if plugin_rows:
        store.executemany(
            store.upsert_sql(tables.name("plugin_session"), PLUGIN_COLUMNS, "id"), plugin_rows
        )
    tagged = [(p.id, p.rfid) for p in plugins if p.rfid]
    if tagged:
        store.executemany(
            store.upsert_sql(tables.name("session_rfid"), ("plugin_id", "tag"), "plugin_id"),
            tagged,
        )
    metered = [r for p in plugins if (r := meter_row(p)) is not None]
    if metered:
        store.executemany(
            store.upsert_sql(tables.name("session_meter"), METER_COLUMNS, "plugin_id"), metered
        )
    ledger_rows = [ledger_row(r) for r in sorted(ledger, key=lambda r: (r.id, r.anchor_at))]
    if ledger_rows:
        store.executemany(
            store.upsert_sql(tables.name("meter_ledger"), LEDGER_COLUMNS, ("id", "anchor_at")),
            ledger_rows,
        )
    priced = [row for cycle in cycles for row in cost_rows(cycle)]
    if priced:
        store.executemany(
            store.upsert_sql(tables.name("cycle_cost"), COST_COLUMNS, COST_KEY), priced
        )
    touched = {p.id for p in plugins} | {c.plugin_id for c in cycles}
    if touched:
        refresh_session_costs(store, tables, sorted(touched))
    if gaps:
        gap_rows = [
            (micros_text(start), micros_text(end), (end - start) // US)
            for start, end in sorted(gaps.items())
        ]
        store.executemany(
            store.upsert_sql(
                tables.name("recorder_gap"), ("started_at", "ended_at", "seconds"), "started_at"
            ),
            gap_rows,
        )


def refresh_session_costs(store: Store, tables: TableSet, plugin_ids: Sequence[int]) -> None:
    """session_cost of these sessions, summed again from their cycles' parts, exactly (in the
    caller's transaction): a session's cost is always the sum of its cycles' costs."""
    total = store.exact_sum_sql("c.cost")
    for chunk in in_chunks(list(plugin_ids)):
        marks = placeholders(chunk)
        store.execute(
            f"DELETE FROM {tables.name('session_cost')} WHERE plugin_id IN ({marks})", chunk
        )
        store.execute(
            f"INSERT INTO {tables.name('session_cost')} "
            "(plugin_id, currency, cost, plugged_at, charger) "
            f"SELECT e.plugin_id, c.currency, {total}, p.plugged_at, p.charger "
            f"FROM {tables.name('cycle_cost')} c "
            f"JOIN {tables.name('energySession')} e ON e.id = c.cycle_id "
            f"JOIN {tables.name('plugin_session')} p ON p.id = e.plugin_id "
            f"WHERE e.plugin_id IN ({marks}) AND {PRICED_SQL} "
            "GROUP BY e.plugin_id, c.currency, p.plugged_at, p.charger",
            chunk,
        )


def read_checkpoint(store: Store, tables: TableSet) -> Checkpoint | None:
    row = store.query_one(
        "SELECT position, machine_state, projector_version, updated_at "
        f"FROM {tables.name('projection_checkpoint')} "
        "WHERE name = ?",
        (CHECKPOINT,),
    )
    return None if row is None else Checkpoint(int(row[0]), row[1], int(row[2]), row[3])


class CheckpointMoved(Exception):
    """Another projector advanced the checkpoint meanwhile: this pass's work is rolled back."""


def advance_checkpoint(
    store: Store, tables: TableSet, expected: int | None, position: int, state: str
) -> None:
    """Compare-and-set: the position only moves forward from where this pass started."""
    now = stored_text(datetime.now(UTC))
    table = tables.name("projection_checkpoint")
    if expected is None:
        store.execute(
            f"INSERT INTO {table} (name, position, machine_state, projector_version, updated_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (CHECKPOINT, position, state, PROJECTOR_VERSION, now),
        )
        return
    changed = store.execute(
        f"UPDATE {table} SET position = ?, machine_state = ?, projector_version = ?, "
        "updated_at = ? "
        "WHERE name = ? AND position = ?",
        (position, state, PROJECTOR_VERSION, now, CHECKPOINT, expected),
    )
    if changed != 1:
        raise CheckpointMoved(f"checkpoint is no longer at {expected}")
