"""The original logger's sessions (table `legacy_session`) as projection rows: one plug-in session
with one cycle each, flagged `legacy`, priced, written into a table set (the live tables at
import, the `_next` ones during a rebuild).

There is no journal for them, so they cannot be replayed: `legacy_session` keeps them as the
original had them, and this module turns them into rows the same way every time. Their ids are
LEGACY_ID_BASE + legacy_session.id: journal positions never get that far (10^15 messages), and
the ids stay below 2^53, so JSON readers see them exactly.

Pricing follows the original logger: a cycle's energy times the base price of the tariff its
`tarifid` named (the tariff imported from that `tarif` row), exact to 10^-12 (the cycle_cost
column's scale). When `tarifid` was 0 or names no imported tariff, the tariffs in force over the
cycle price it, like any journal cycle (projector.money.pricing.Pricer.add over [start, end]). The
result
depends only on the row, the tariffs and the zone, so an import and a rebuild write the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import tzinfo
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any

from journal.config import site_zone
from journal.storage import Store, in_chunks
from projector.money.pricing import CostParts, Pricer
from projector.money.tariffs import Tariff
from projector.records import Cycle, Plugin
from projector.tables import (
    COST_COLUMNS,
    COST_KEY,
    CYCLE_COLUMNS,
    ORIGINAL_COLUMNS,
    PLUGIN_COLUMNS,
    TableSet,
    cost_rows,
    cycle_row,
    plugin_row,
    refresh_session_costs,
)

LEGACY_ID_BASE = 10**15  # projection id = LEGACY_ID_BASE + legacy_session.id
LEGACY_FLAG = "legacy"
US = 1_000_000
WS_PER_KWH = Decimal(3_600_000)
COST_SCALE = Decimal("1e-12")  # cycle_cost.cost is DECIMAL(24,12)
_DIVIDE = Context(prec=80)  # Ws x price / 3.6e6 may not terminate: quantized to COST_SCALE
CHUNK = 1000  # rows per multi-row statement

STORED_COLUMNS = ", ".join(("id", "legacy_id", *ORIGINAL_COLUMNS, "tariff_id", "charger"))


@dataclass(frozen=True)
class StoredLegacySession:
    """A row of `legacy_session`: the original's columns and what the import resolved."""

    id: int
    legacy_id: int
    tstamp: int
    value: int | None
    sdur: int | None
    carid: int | None
    status: int | None
    tarifid: int | None
    tariff_id: int | None  # the chargelog tariff its `tarifid` became (None: none)
    charger: str

    @property
    def projection_id(self) -> int:
        return LEGACY_ID_BASE + self.id

    @property
    def watt_seconds(self) -> int:
        return self.value or 0

    @property
    def ended_us(self) -> int:
        return self.tstamp * US

    @property
    def started_us(self) -> int:
        return max(0, self.tstamp - (self.sdur or 0)) * US


def read_stored(store: Store) -> list[StoredLegacySession]:
    """Every imported legacy session (in the caller's transaction: no rollback here)."""
    rows = store.query(f"SELECT {STORED_COLUMNS} FROM legacy_session ORDER BY id")
    return [
        StoredLegacySession(
            int(sid),
            int(legacy_id),
            int(tstamp),
            _opt(value),
            _opt(sdur),
            _opt(carid),
            _opt(status),
            _opt(tarifid),
            _opt(tariff_id),
            str(charger),
        )
        for sid, legacy_id, tstamp, value, sdur, carid, status, tarifid, tariff_id, charger in rows
    ]


def _opt(value: Any) -> int | None:
    return None if value is None else int(value)


def legacy_costs(row: StoredLegacySession, pricer: Pricer) -> CostParts:
    """The cycle's priced parts, as the journal's cycles carry them ("tariff|band|price|cur")."""
    wh = row.watt_seconds / 3600
    if row.watt_seconds <= 0:
        return {}
    named = _tariff(pricer.tariffs, row.tariff_id)
    if named is not None:
        exact = _DIVIDE.divide(_DIVIDE.multiply(Decimal(row.watt_seconds), named.price), WS_PER_KWH)
        cost = exact.quantize(COST_SCALE, rounding=ROUND_HALF_UP)
        return {f"{named.id}||{named.price}|{named.currency}": [wh, str(cost)]}
    costs: CostParts = {}
    pricer.add(costs, row.charger, row.started_us, row.ended_us, wh)
    return costs


def _tariff(tariffs: Sequence[Tariff], tariff_id: int | None) -> Tariff | None:
    if tariff_id is None:
        return None
    return next((tariff for tariff in tariffs if tariff.id == tariff_id), None)


def records(row: StoredLegacySession, pricer: Pricer) -> tuple[Cycle, Plugin]:
    """The plug-in session and its one cycle: plugged and started at tstamp - sdur, ended and
    unplugged at tstamp, stopped (the original counted a cycle when the car stopped drawing)."""
    pid = row.projection_id
    wh = row.watt_seconds / 3600
    flags = {LEGACY_FLAG: row.legacy_id}  # the detail is the original energySession id
    cycle = Cycle(
        id=pid,
        charger=row.charger,
        plugin_id=pid,
        started_at=row.started_us,
        last_charging_at=row.ended_us,
        ended_at=row.ended_us,
        end_reason="stopped",
        energy_wh=wh,
        flags=dict(flags),
        costs=legacy_costs(row, pricer),
    )
    plugin = Plugin(
        id=pid,
        charger=row.charger,
        plugged_at=row.started_us,
        last_connected_at=row.ended_us,
        unplugged_at=row.ended_us,
        energy_wh=wh,
        charging_us=row.ended_us - row.started_us,
        cycle_count=1,
        flags=dict(flags),
    )
    return cycle, plugin


_ORIGINAL = {name: CYCLE_COLUMNS.index(name) for name in ("value", "carid", "status", "tarifid")}


def legacy_cycle_row(row: StoredLegacySession, cycle: Cycle) -> tuple[Any, ...]:
    """energySession's row, with the original's own value, carid, status and tarifid (its
    `tarif` id, as its users' queries expect; carid NULL becomes the column's default 1)."""
    values = list(cycle_row(cycle))
    values[_ORIGINAL["value"]] = row.watt_seconds
    values[_ORIGINAL["carid"]] = 1 if row.carid is None else row.carid
    values[_ORIGINAL["status"]] = row.status
    values[_ORIGINAL["tarifid"]] = 0 if row.tarifid is None else row.tarifid
    return tuple(values)


def write_legacy(
    store: Store, tables: TableSet, rows: Sequence[StoredLegacySession], pricer: Pricer
) -> int:
    """Upsert the rows' sessions, cycles and costs (in the caller's transaction) after removing
    any cost parts legacy cycles had, so a part priced by a tariff since removed goes too."""
    store.execute(f"DELETE FROM {tables.name('cycle_cost')} WHERE cycle_id >= ?", (LEGACY_ID_BASE,))
    for chunk in in_chunks(rows, CHUNK):
        built = [(row, *records(row, pricer)) for row in chunk]
        store.executemany(
            store.upsert_sql(tables.name("energySession"), CYCLE_COLUMNS, "id"),
            [legacy_cycle_row(row, cycle) for row, cycle, _ in built],
        )
        store.executemany(
            store.upsert_sql(tables.name("plugin_session"), PLUGIN_COLUMNS, "id"),
            [plugin_row(plugin, None) for _, _, plugin in built],
        )
        parts = [part for _, cycle, _ in built for part in cost_rows(cycle)]
        if parts:
            store.executemany(
                store.upsert_sql(tables.name("cycle_cost"), COST_COLUMNS, COST_KEY), parts
            )
        refresh_session_costs(store, tables, [plugin.id for _, _, plugin in built])
    return len(rows)


def rebuild_legacy(
    store: Store,
    tables: TableSet,
    *,
    zone: tzinfo | None = None,
    config_tariff: Tariff | None = None,
) -> int:
    """The rebuild's hook: write every imported legacy session into `tables` (the `_next` ones,
    before the swap), priced with the same tariffs and zone as the journal's sessions, and
    commit. Returns how many."""
    pricer = Pricer.load(store, zone if zone is not None else site_zone(""), config_tariff)
    try:
        count = write_legacy(store, tables, read_stored(store), pricer)
        store.commit()
    except BaseException:
        store.rollback()
        raise
    return count
