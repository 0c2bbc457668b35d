"""The projection read back for the pages: one page of sessions with their cycles, one session,
the chargers, the live sessions, each with its exact cost per currency (projector.money.costs).
Read-only, short parameterised SQL, no ORM."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from journal.storage import Store
from projector.money.costs import Amounts, cycle_costs, session_costs, session_costs_where
from projector.sessions import SessionFilter, cycle_rows, filter_sql
from projector.status import ChargerStatus
from webapp.buckets import micros_sql, stamp, utc

_SESSION_COLUMNS = (
    "id, charger, plugged_at, unplugged_at, energy_wh, charging_s, cycle_count, flags"
)


@dataclass(frozen=True)
class CycleRow:
    """One charging cycle as the pages show it."""

    id: int
    started_at: datetime
    ended_at: datetime | None
    wh: float
    charging_s: int
    peak_power_w: float | None
    counter_start: float | None
    counter_end: float | None
    end_reason: str | None
    flags: dict[str, int]
    costs: Amounts = field(default_factory=dict)  # exact, per currency; empty: not priced


@dataclass(frozen=True)
class SessionRow:
    """One plug-in session as the pages show it."""

    id: int
    charger: str
    plugged_at: datetime
    unplugged_at: datetime | None
    wh: float
    charging_s: int
    cycle_count: int
    flags: dict[str, int]
    cycles: tuple[CycleRow, ...] = ()
    costs: Amounts = field(default_factory=dict)  # exact, per currency; empty: not priced


def _flags(raw: str | None) -> dict[str, int]:
    """Stored as a JSON object; a damaged value shows as no flags rather than a broken page."""
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        return {}
    return {str(k): v for k, v in sorted(value.items())} if isinstance(value, dict) else {}


def _session(
    row: Sequence[Any], cycles: Sequence[CycleRow] = (), costs: Amounts | None = None
) -> SessionRow:
    sid, charger, plugged, unplugged, energy, charging, count, flags = row
    return SessionRow(
        id=int(sid),
        charger=str(charger),
        plugged_at=utc(plugged),  # type: ignore[arg-type]
        unplugged_at=utc(unplugged),
        wh=float(energy),
        charging_s=int(charging),
        cycle_count=int(count),
        flags=_flags(flags),
        cycles=tuple(cycles),
        costs=costs or {},
    )


def _costed(store: Store, rows: Sequence[Sequence[Any]]) -> list[SessionRow]:
    """plugin_session rows as SessionRows with their costs, and their cycles with theirs: one
    read of cycle_cost for both, so a session's cost is always the sum of its cycles'."""
    ids = [int(r[0]) for r in rows]
    cycle_amounts, costs = cycle_costs(store, ids)
    cycles = cycles_of(store, ids, cycle_amounts)
    return [_session(r, cycles.get(int(r[0]), ()), costs.get(int(r[0]))) for r in rows]


def page_of_sessions(
    store: Store, filt: SessionFilter, limit: int, offset: int
) -> list[SessionRow]:
    """Newest first, with cycles: one page, whatever the length of the history."""
    where, params = filter_sql(filt)
    rows = store.query(
        f"SELECT {_SESSION_COLUMNS} FROM plugin_session WHERE {where} "
        "ORDER BY plugged_at DESC, id DESC LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    sessions = _costed(store, rows)
    store.rollback()
    return sessions


def session_by_id(store: Store, session_id: int) -> SessionRow | None:
    """One session with its cycles, or None."""
    row = store.query_one(
        f"SELECT {_SESSION_COLUMNS} FROM plugin_session WHERE id = ?", (session_id,)
    )
    if row is None:
        store.rollback()
        return None
    (session,) = _costed(store, [row])
    store.rollback()
    return session


def cycles_of(
    store: Store, ids: list[int], costs: dict[int, Amounts] | None = None
) -> dict[int, list[CycleRow]]:
    """The cycles of some sessions, by session id, oldest first, with their costs by cycle id."""
    costs = costs or {}
    return {
        plugin_id: [
            CycleRow(
                id=int(cid),
                started_at=utc(started),  # type: ignore[arg-type]
                ended_at=utc(ended),
                wh=float(energy),
                charging_s=int(sdur),
                peak_power_w=None if peak is None else float(peak),
                counter_start=None if c0 is None else float(c0),
                counter_end=None if c1 is None else float(c1),
                end_reason=reason,
                flags=_flags(flags),
                costs=costs.get(int(cid), {}),
            )
            for cid, _, started, ended, energy, sdur, peak, c0, c1, reason, flags in rows
        ]
        for plugin_id, rows in cycle_rows(store, ids).items()
    }


def all_sessions(store: Store, filt: SessionFilter) -> list[SessionRow]:
    """Oldest first, without cycles but with their costs: the CSV's rows."""
    where, params = filter_sql(filt)
    plugged, unplugged = (micros_sql(store.dialect, c) for c in ("plugged_at", "unplugged_at"))
    rows = store.query(
        f"SELECT id, charger, {plugged}, {unplugged}, energy_wh, charging_s, cycle_count, flags "
        f"FROM plugin_session WHERE {where} ORDER BY plugged_at, id",
        params,
    )
    costs = session_costs_where(store, where, params)
    store.rollback()
    return [_session(r, (), costs.get(int(r[0]))) for r in rows]


def charger_names(store: Store) -> list[str]:
    """Every charger with a session, for the filter's list."""
    rows = store.query("SELECT DISTINCT charger FROM plugin_session ORDER BY charger")
    store.rollback()
    return [str(r[0]) for r in rows]


def has_sessions(store: Store) -> bool:
    """Whether anything was ever recorded (the new-install page)."""
    row = store.query_one("SELECT id FROM plugin_session LIMIT 1")
    store.rollback()
    return row is not None


def live_sessions(store: Store, statuses: Sequence[ChargerStatus]) -> list[SessionRow]:
    """The open plug-in of every charger the projector sees plugged (the checkpoint's machine
    state), so the banner costs one indexed lookup per plugged charger, not a table scan."""
    live = []
    for status in statuses:
        if not status.plugged:
            continue
        row = store.query_one(
            f"SELECT {_SESSION_COLUMNS} FROM plugin_session WHERE charger = ? "
            "AND unplugged_at IS NULL ORDER BY plugged_at DESC LIMIT 1",
            (status.name,),
        )
        if row is not None:
            live.append(row)
    costs = session_costs(store, [int(r[0]) for r in live])
    store.rollback()
    return [_session(r, (), costs.get(int(r[0]))) for r in live]


def next_plugin_id(store: Store, session: SessionRow) -> int | None:
    """The next plug-in on the same charger: the journal positions of this one end before it."""
    row = store.query_one(
        "SELECT id FROM plugin_session WHERE charger = ? AND plugged_at > ? "
        "ORDER BY plugged_at LIMIT 1",
        (session.charger, stamp(session.plugged_at)),
    )
    store.rollback()
    return int(row[0]) if row else None


def edge_session(store: Store, filt: SessionFilter, newest: bool) -> SessionRow | None:
    """The oldest or the newest session of the filtered set: the span of its totals."""
    where, params = filter_sql(filt)
    order = "DESC" if newest else "ASC"
    row = store.query_one(
        f"SELECT {_SESSION_COLUMNS} FROM plugin_session WHERE {where} "
        f"ORDER BY plugged_at {order}, id {order} LIMIT 1",
        params,
    )
    store.rollback()
    return _session(row) if row else None
