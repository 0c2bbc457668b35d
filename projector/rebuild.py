"""`chargelog project --rebuild`: replay the whole journal into `_next` tables, report what
changed against the live ones, and swap them in atomically (or drop them with --dry-run)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

from journal.storage import Store
from projector.legacy.projection import rebuild_legacy
from projector.money.tariffs import Tariff
from projector.runner import LIVE, NEXT, PassResult, Progress, project_pass
from projector.tables import TABLES, TableSet


@dataclass
class Difference:
    """What a rebuild changes, for the operator to read before (or after) it happens."""

    sessions_added: list[int] = field(default_factory=list)
    sessions_removed: list[int] = field(default_factory=list)
    sessions_changed: list[int] = field(default_factory=list)
    cycles_added: int = 0
    cycles_removed: int = 0
    cycles_changed: int = 0
    kwh_before: float = 0.0
    kwh_after: float = 0.0

    def summary(self) -> str:
        return (
            f"sessions: {len(self.sessions_added)} added, {len(self.sessions_removed)} removed, "
            f"{len(self.sessions_changed)} changed; cycles: {self.cycles_added} added, "
            f"{self.cycles_removed} removed, {self.cycles_changed} changed; "
            f"energy: {self.kwh_before:.3f} kWh -> {self.kwh_after:.3f} kWh "
            f"({self.kwh_after - self.kwh_before:+.3f} kWh)"
        )


# Columns compared to call a row changed (projector_version alone is not a change of content).
_PLUGIN_FIELDS = "charger, plugged_at, unplugged_at, energy_wh, charging_s, cycle_count, flags"
_CYCLE_FIELDS = "plugin_id, started_at, ended_at, energy_wh, end_reason, flags"


def _rows(store: Store, table: str, fields: str) -> dict[int, tuple[Any, ...]]:
    return {int(r[0]): tuple(r[1:]) for r in store.query(f"SELECT id, {fields} FROM {table}")}


def difference(store: Store, old: TableSet, new: TableSet) -> Difference:
    before = _rows(store, old.name("plugin_session"), _PLUGIN_FIELDS)
    after = _rows(store, new.name("plugin_session"), _PLUGIN_FIELDS)
    diff = Difference(
        sessions_added=sorted(after.keys() - before.keys()),
        sessions_removed=sorted(before.keys() - after.keys()),
        sessions_changed=sorted(k for k in before.keys() & after.keys() if before[k] != after[k]),
        kwh_before=sum(r[3] for r in before.values()) / 1000.0,
        kwh_after=sum(r[3] for r in after.values()) / 1000.0,
    )
    cycles_before = _rows(store, old.name("energySession"), _CYCLE_FIELDS)
    cycles_after = _rows(store, new.name("energySession"), _CYCLE_FIELDS)
    diff.cycles_added = len(cycles_after.keys() - cycles_before.keys())
    diff.cycles_removed = len(cycles_before.keys() - cycles_after.keys())
    diff.cycles_changed = sum(
        1 for k in cycles_before.keys() & cycles_after.keys() if cycles_before[k] != cycles_after[k]
    )
    store.rollback()
    return diff


def rebuild(
    store: Store,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    zone: tzinfo | None = None,
    config_tariff: Tariff | None = None,
    names: Mapping[str, str] | None = None,
) -> tuple[PassResult, Difference]:
    """The caller holds the projector lock, so no incremental pass runs meanwhile."""
    for table in TABLES:
        store.create_table_like(NEXT.name(table), table)
    store.commit()
    try:
        result = project_pass(
            store, NEXT, progress=progress, zone=zone, config_tariff=config_tariff, names=names
        )
        # No journal holds the original logger's sessions: they are written from their table.
        rebuild_legacy(store, NEXT, zone=zone, config_tariff=config_tariff)
        diff = difference(store, LIVE, NEXT)
    except BaseException:
        _drop_next(store)
        raise
    if dry_run:
        _drop_next(store)
    else:
        store.swap_tables(TABLES, NEXT.suffix)
    return result, diff


def _drop_next(store: Store) -> None:
    store.rollback()
    for table in TABLES:
        store.execute(f"DROP TABLE IF EXISTS {NEXT.name(table)}")
    store.commit()
