"""Reading the projection back: plug-in sessions with their cycles, as the JSON contract of
`chargelog sessions --format json` and `/api/sessions` (oldest first, times ISO 8601 UTC + Z),
each with its cost in the keys of projector.money.costs.cost_fields."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from journal.entries import to_micros
from journal.storage import Store
from projector.money.costs import Amounts, cost_fields, cycle_costs, exact_fields

IN_CHUNK = 500


@dataclass(frozen=True)
class SessionFilter:
    """A half-open UTC range on plugged_at, and a charger name."""

    start: datetime | None = None
    end: datetime | None = None
    charger: str | None = None


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


def iso(value: Any) -> str | None:
    """A stored UTC time as ISO 8601 with a Z, to the second."""
    if value is None:
        return None
    seconds = to_micros(value) // 1_000_000
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _flag_names(raw: str) -> tuple[list[str], dict[str, int]]:
    details = json.loads(raw or "{}")
    return sorted(details), details


def filter_sql(filt: SessionFilter) -> tuple[str, list[Any]]:
    """The WHERE clause on plugin_session for a filter: every view (CLI, page, CSV, API)
    selects with this one, so they always agree on what a filter means."""
    where, params = ["1 = 1"], []
    if filt.start is not None:
        where.append("plugged_at >= ?")
        params.append(_text(filt.start))
    if filt.end is not None:
        where.append("plugged_at < ?")
        params.append(_text(filt.end))
    if filt.charger:
        where.append("charger = ?")
        params.append(filt.charger)
    return " AND ".join(where), params


def _cost_keys(amounts: Amounts) -> dict[str, Any]:
    """A session's or a cycle's cost: the rounded keys every view shows, and the exact amounts
    whose sum is what the totals round once."""
    return {**cost_fields(amounts), **exact_fields(amounts)}


def list_sessions(store: Store, filt: SessionFilter = SessionFilter()) -> list[dict[str, Any]]:
    where, params = filter_sql(filt)
    rows = store.query(
        "SELECT id, charger, plugged_at, unplugged_at, energy_wh, charging_s, cycle_count, flags "
        f"FROM plugin_session WHERE {where} ORDER BY plugged_at, id",
        params,
    )
    ids = [int(r[0]) for r in rows]
    cycle_amounts, costs = cycle_costs(store, ids)
    cycles = _cycles_of(store, ids, cycle_amounts)
    store.rollback()
    sessions = []
    for sid, charger, plugged, unplugged, energy, charging, count, flags in rows:
        names, details = _flag_names(flags)
        sessions.append(
            {
                "id": int(sid),
                "charger": charger,
                "plugged_at": iso(plugged),
                "unplugged_at": iso(unplugged),
                "energy_wh": round(float(energy), 3),
                "charging_s": int(charging),
                "cycle_count": int(count),
                "flags": names,
                "flag_details": details,
                **_cost_keys(costs.get(int(sid), {})),
                "cycles": cycles.get(int(sid), []),
            }
        )
    return sessions


def cycle_rows(store: Store, ids: list[int]) -> dict[int, list[tuple[Any, ...]]]:
    """The energySession rows of some plug-in sessions, by session id, oldest first, as
    (id, plugin_id, started_at, ended_at, energy_wh, sdur, peak_power_w, counter_start,
    counter_end, end_reason, flags); chunked so a long history never makes a huge IN list."""
    found: dict[int, list[tuple[Any, ...]]] = {}
    for start in range(0, len(ids), IN_CHUNK):
        chunk = ids[start : start + IN_CHUNK]
        marks = ", ".join("?" for _ in chunk)
        rows = store.query(
            "SELECT id, plugin_id, started_at, ended_at, energy_wh, sdur, peak_power_w, "
            "counter_start, counter_end, end_reason, flags "
            f"FROM energySession WHERE plugin_id IN ({marks}) ORDER BY started_at, id",
            chunk,
        )
        for row in rows:
            found.setdefault(int(row[1]), []).append(row)
    return found


def _cycles_of(
    store: Store, ids: list[int], costs: dict[int, Amounts]
) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {}
    for plugin_id, rows in cycle_rows(store, ids).items():
        for cid, _, started, ended, energy, sdur, peak, c0, c1, reason, flags in rows:
            names, details = _flag_names(flags)
            found.setdefault(plugin_id, []).append(
                {
                    "id": int(cid),
                    "started_at": iso(started),
                    "ended_at": iso(ended),
                    "energy_wh": round(float(energy), 3),
                    "end_reason": reason,
                    "charging_s": int(sdur),
                    "peak_power_w": peak,
                    "counter_start": c0,
                    "counter_end": c1,
                    "flags": names,
                    "flag_details": details,
                    **_cost_keys(costs.get(int(cid), {})),
                }
            )
    return found
