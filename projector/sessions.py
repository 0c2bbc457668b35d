"""The one sessions read model: plug-in sessions and their charging cycles read back from the
projection as typed rows (SessionRow, CycleRow), with their exact cost per currency
(projector.money.costs.Amounts, Decimal until printed). The CLI (`chargelog sessions`), the JSON
of /api/sessions, both CSVs and the pages all read these rows; projector.session_formats turns
them into text. Read-only, short parameterised SQL, no ORM.

Every row is unpacked in one place (`_session`, `_cycle`), and a filter means the same in every
view (`filter_sql`).

Flags are stored as a JSON object (flag -> count or seconds). A damaged value (not JSON, or not
an object) is read as no flags, never an error, so one bad row cannot break a listing, a page or
an export; each such row is logged as a warning naming its table and id (a rebuild, `chargelog
project --rebuild`, writes every row anew)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from journal.entries import stored_text, to_micros
from journal.storage import Store, in_chunks, placeholders
from projector.money.costs import Amounts, cycle_costs, session_costs, session_costs_where

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SESSION_COLUMNS = (
    "id, charger, plugged_at, unplugged_at, energy_wh, charging_s, cycle_count, flags"
)
_CYCLE_COLUMNS = (
    "id, plugin_id, started_at, ended_at, energy_wh, sdur, peak_power_w, "
    "counter_start, counter_end, end_reason, flags"
)


@dataclass(frozen=True)
class SessionFilter:
    """A half-open UTC range on plugged_at, and a charger name."""

    start: datetime | None = None
    end: datetime | None = None
    charger: str | None = None


@dataclass(frozen=True)
class CycleRow:
    """One charging cycle (a row of energySession)."""

    id: int
    started_at: datetime
    ended_at: datetime | None
    wh: float
    charging_s: int
    peak_power_w: float | None
    counter_start: float | None
    counter_end: float | None
    end_reason: str | None
    flags: dict[str, int]  # sorted by name
    costs: Amounts = field(default_factory=dict)  # exact, per currency; empty: not priced


@dataclass(frozen=True)
class SessionRow:
    """One plug-in session (a row of plugin_session), with its cycles where the query read them."""

    id: int
    charger: str
    plugged_at: datetime
    unplugged_at: datetime | None
    wh: float
    charging_s: int
    cycle_count: int
    flags: dict[str, int]  # sorted by name
    cycles: tuple[CycleRow, ...] = ()
    costs: Amounts = field(default_factory=dict)  # exact, per currency; empty: not priced
    # The charger's lifetime meter (Wh) at plug-in and at the session's last reading, and how
    # far it went back meanwhile; None where it was not read from the plug-in on.
    meter: tuple[float, float, float] | None = None
    rfid: str | None = None  # the RFID tag that authorised it

    @property
    def meter_wh(self) -> float | None:
        """How far the meter rose over the session (net of a rollback): its energy by the meter."""
        return None if self.meter is None else self.meter[1] - self.meter[0] - self.meter[2]


def local_day_range(
    first: date | None, last: date | None, zone: tzinfo
) -> tuple[datetime | None, datetime | None]:
    """--from/--to DATE are local calendar days, both inclusive."""
    start = datetime.combine(first, datetime.min.time(), zone).astimezone(UTC) if first else None
    end = (
        datetime.combine(last + timedelta(days=1), datetime.min.time(), zone).astimezone(UTC)
        if last
        else None
    )
    return start, end


def filter_sql(filt: SessionFilter, column: str = "plugged_at") -> tuple[str, list[Any]]:
    """The WHERE clause on plugin_session (or session_cost, which has plugged_at and charger
    too, or meter_ledger, whose rows of a session start at its plug-in: `column` anchor_at) for
    a filter: every view selects with this one, so they always agree on what a filter means."""
    where, params = ["1 = 1"], []
    if filt.start is not None:
        where.append(f"{column} >= ?")
        params.append(stored_text(filt.start))
    if filt.end is not None:
        where.append(f"{column} < ?")
        params.append(stored_text(filt.end))
    if filt.charger:
        where.append("charger = ?")
        params.append(filt.charger)
    return " AND ".join(where), params


# ---- unpacking rows ----------------------------------------------------------------------------


def _moment(value: Any) -> datetime:
    """A stored UTC time (SQLite text, a MariaDB datetime, or Store.micros_sql's integer) as an
    aware datetime, to the microsecond."""
    micros = value if isinstance(value, int) else to_micros(value)
    return EPOCH + timedelta(microseconds=micros)


def _maybe_moment(value: Any) -> datetime | None:
    return None if value is None else _moment(value)


def _maybe_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _flags(raw: str | None, table: str, row_id: int) -> dict[str, int]:
    """The stored JSON object of flags, sorted by name; a damaged value reads as no flags and is
    logged (see the module docstring)."""
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        value = None
    if not isinstance(value, dict):
        log.warning("%s %d: flags %.80r are not a JSON object: shown as none", table, row_id, raw)
        return {}
    return {str(k): v for k, v in sorted(value.items())}


def _session(
    row: Sequence[Any],
    cycles: Sequence[CycleRow] = (),
    costs: Amounts | None = None,
    meter: tuple[float, float, float] | None = None,
    rfid: str | None = None,
) -> SessionRow:
    """A row of _SESSION_COLUMNS as a SessionRow."""
    sid, charger, plugged, unplugged, energy, charging, count, flags = row
    return SessionRow(
        id=int(sid),
        charger=str(charger),
        plugged_at=_moment(plugged),
        unplugged_at=_maybe_moment(unplugged),
        wh=float(energy),
        charging_s=int(charging),
        cycle_count=int(count),
        flags=_flags(flags, "plugin_session", int(sid)),
        cycles=tuple(cycles),
        costs=costs or {},
        meter=meter,
        rfid=rfid,
    )


def _cycle(row: Sequence[Any], costs: Amounts | None = None) -> CycleRow:
    """A row of _CYCLE_COLUMNS as a CycleRow."""
    cid, _, started, ended, energy, sdur, peak, c0, c1, reason, flags = row
    peak_w, counter_start, counter_end = (_maybe_float(v) for v in (peak, c0, c1))
    return CycleRow(
        id=int(cid),
        started_at=_moment(started),
        ended_at=_maybe_moment(ended),
        wh=float(energy),
        charging_s=int(sdur),
        peak_power_w=peak_w,
        counter_start=counter_start,
        counter_end=counter_end,
        end_reason=reason,
        flags=_flags(flags, "energySession", int(cid)),
        costs=costs or {},
    )


def cycles_of(
    store: Store, ids: Sequence[int], costs: dict[int, Amounts] | None = None
) -> dict[int, list[CycleRow]]:
    """The cycles of some plug-in sessions, by session id, oldest first, with their costs by
    cycle id; chunked, so a long history never makes a huge IN list."""
    costs = costs or {}
    found: dict[int, list[CycleRow]] = {}
    for chunk in in_chunks(list(ids)):
        rows = store.query(
            f"SELECT {_CYCLE_COLUMNS} FROM energySession "
            f"WHERE plugin_id IN ({placeholders(chunk)}) ORDER BY started_at, id",
            list(chunk),
        )
        for row in rows:
            found.setdefault(int(row[1]), []).append(_cycle(row, costs.get(int(row[0]))))
    return found


def session_meters(store: Store, ids: Sequence[int]) -> dict[int, tuple[float, float, float]]:
    """The meter at plug-in and at the last reading, and the rollback, of these sessions (those
    whose meter was read from their start), chunked like cycles_of."""
    found: dict[int, tuple[float, float, float]] = {}
    for chunk in in_chunks(list(ids)):
        for pid, start, end, rollback in store.query(
            "SELECT plugin_id, meter_start_wh, meter_end_wh, rollback_wh FROM session_meter "
            f"WHERE plugin_id IN ({placeholders(chunk)})",
            list(chunk),
        ):
            found[int(pid)] = (float(start), float(end), float(rollback))
    return found


def session_tags(store: Store, ids: Sequence[int]) -> dict[int, str]:
    """The RFID tag of these sessions, where one was heard (session_rfid), chunked likewise."""
    found: dict[int, str] = {}
    for chunk in in_chunks(list(ids)):
        for pid, tag in store.query(
            f"SELECT plugin_id, tag FROM session_rfid WHERE plugin_id IN ({placeholders(chunk)})",
            list(chunk),
        ):
            found[int(pid)] = str(tag)
    return found


def _with_cycles(store: Store, rows: Sequence[Sequence[Any]]) -> list[SessionRow]:
    """plugin_session rows as SessionRows with their cycles, each with its cost: one read of
    cycle_cost for both, so a session's cost is always the sum of its cycles'."""
    ids = [int(r[0]) for r in rows]
    cycle_amounts, costs = cycle_costs(store, ids)
    cycles = cycles_of(store, ids, cycle_amounts)
    meters = session_meters(store, ids)
    tags = session_tags(store, ids)
    store.rollback()
    return [
        _session(
            r,
            cycles.get(int(r[0]), ()),
            costs.get(int(r[0])),
            meters.get(int(r[0])),
            tags.get(int(r[0])),
        )
        for r in rows
    ]


# ---- the queries -------------------------------------------------------------------------------


def list_sessions(store: Store, filt: SessionFilter = SessionFilter()) -> list[SessionRow]:
    """Every session of the filter, oldest first, with cycles and costs: `chargelog sessions`
    and /api/sessions."""
    where, params = filter_sql(filt)
    rows = store.query(
        f"SELECT {_SESSION_COLUMNS} FROM plugin_session WHERE {where} ORDER BY plugged_at, id",
        params,
    )
    return _with_cycles(store, rows)


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
    return _with_cycles(store, rows)


def session_by_id(store: Store, session_id: int) -> SessionRow | None:
    """One session with its cycles, or None."""
    row = store.query_one(
        f"SELECT {_SESSION_COLUMNS} FROM plugin_session WHERE id = ?", (session_id,)
    )
    if row is None:
        store.rollback()
        return None
    (session,) = _with_cycles(store, [row])
    return session


def all_sessions(store: Store, filt: SessionFilter) -> list[SessionRow]:
    """Oldest first, without cycles but with their costs (session_cost, one query for the whole
    set): the export's rows and a statement's sessions. Times come as integers computed by the
    server, cheaper than parsing years of them in the driver."""
    where, params = filter_sql(filt)
    plugged, unplugged = (store.micros_sql(c) for c in ("plugged_at", "unplugged_at"))
    rows = store.query(
        f"SELECT id, charger, {plugged}, {unplugged}, energy_wh, charging_s, cycle_count, flags "
        f"FROM plugin_session WHERE {where} ORDER BY plugged_at, id",
        params,
    )
    costs = session_costs_where(store, where, params)
    ids = [int(r[0]) for r in rows]
    meters, tags = session_meters(store, ids), session_tags(store, ids)
    store.rollback()
    return [
        _session(r, (), costs.get(int(r[0])), meters.get(int(r[0])), tags.get(int(r[0])))
        for r in rows
    ]


def open_sessions(store: Store, chargers: Sequence[str]) -> list[SessionRow]:
    """The open plug-in of each of these chargers (those the projector sees plugged), without
    cycles but with its cost so far: one indexed lookup per charger, not a table scan."""
    live = []
    for charger in chargers:
        row = store.query_one(
            f"SELECT {_SESSION_COLUMNS} FROM plugin_session WHERE charger = ? "
            "AND unplugged_at IS NULL ORDER BY plugged_at DESC LIMIT 1",
            (charger,),
        )
        if row is not None:
            live.append(row)
    costs = session_costs(store, [int(r[0]) for r in live])
    store.rollback()
    return [_session(r, (), costs.get(int(r[0]))) for r in live]


def edge_session(store: Store, filt: SessionFilter, newest: bool) -> SessionRow | None:
    """The oldest or the newest session of the filtered set (no cycles, no costs): the span of
    its totals."""
    where, params = filter_sql(filt)
    order = "DESC" if newest else "ASC"
    row = store.query_one(
        f"SELECT {_SESSION_COLUMNS} FROM plugin_session WHERE {where} "
        f"ORDER BY plugged_at {order}, id {order} LIMIT 1",
        params,
    )
    store.rollback()
    return _session(row) if row else None


def next_plugin_id(store: Store, session: SessionRow) -> int | None:
    """The next plug-in on the same charger: the journal positions of this one end before it."""
    row = store.query_one(
        "SELECT id FROM plugin_session WHERE charger = ? AND plugged_at > ? "
        "ORDER BY plugged_at LIMIT 1",
        (session.charger, stored_text(session.plugged_at)),
    )
    store.rollback()
    return int(row[0]) if row else None


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
