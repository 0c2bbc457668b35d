"""Totals (count, energy, charging time) over the filtered sessions, computed by the database for
whole buckets, so a month's total stays complete when its sessions span several pages.

Energy is summed as stored (Wh to three decimals, what the API's energy_wh says); the CSV prints
each session's stored energy exactly, in kWh, so its column, the API and the page add up to the
same total, and the page rounds it once, half up, to the digit it shows.

Costs are summed in Python, in Decimal per currency (SQLite stores them as TEXT, so SUM() would be
a float): the priced parts of the sessions in the buckets' span, read a page of sessions at a time
through projector.costs, each session counted in the buckets its plugged_at falls in (the same
half-open ranges as the SQL counts). So a bucket's cost is the exact sum of its sessions' costs,
rounded once when shown, and agrees with the CSV's exact column and /api/sessions.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from journal.storage import Store
from projector.costs import IN_CHUNK, Amounts, add_amounts, cost_fields, session_costs
from projector.sessions import SessionFilter, filter_sql
from webapp.buckets import Range, add_months, clip, day_range, micros_sql, month_range, utc

CHUNK = 100  # buckets per statement (SQLite allows 500 terms in one compound SELECT)


@dataclass(frozen=True)
class Totals:
    """Count, energy (whole Wh), charging time and exact cost per currency of a set of
    sessions."""

    count: int = 0
    wh: float = 0.0
    charging_s: int = 0
    costs: Amounts = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The totals for the API, energy in Wh and in kWh, cost as every view gives it."""
        return {
            "count": self.count,
            "energy_wh": round(self.wh, 3),
            "energy_kwh": round(self.wh / 1000, 6),
            "charging_s": self.charging_s,
            **cost_fields(self.costs),
        }


def range_totals(store: Store, filt: SessionFilter, buckets: Sequence[Range]) -> list[Totals]:
    """Totals per bucket (a UTC range on plugged_at, None = open), within the filter."""
    limits = (filt.start, filt.end)
    clipped = [clip(b, limits) for b in buckets]
    found: dict[int, Totals] = {}
    wanted = [(i, r) for i, r in enumerate(clipped) if r is not None]
    for start in range(0, len(wanted), CHUNK):
        selects, params = [], []
        for index, (low, high) in wanted[start : start + CHUNK]:
            where, args = filter_sql(SessionFilter(low, high, filt.charger))
            selects.append(
                f"SELECT {index}, COUNT(*), COALESCE(SUM(energy_wh), 0), "
                f"COALESCE(SUM(charging_s), 0) FROM plugin_session WHERE {where}"
            )
            params += args
        for index, count, energy, charging in store.query(" UNION ALL ".join(selects), params):
            found[int(index)] = Totals(int(count), float(energy), int(charging))
    costs = range_costs(store, filt.charger, clipped)
    store.rollback()
    return [replace(found.get(i, Totals()), costs=costs[i]) for i in range(len(buckets))]


def _span(buckets: Sequence[Range | None]) -> Range | None:
    """The smallest range holding every bucket (None = open), or None when there is none."""
    present = [b for b in buckets if b is not None]
    if not present:
        return None
    starts, ends = [b[0] for b in present], [b[1] for b in present]
    return (
        None if None in starts else min(s for s in starts if s is not None),
        None if None in ends else max(e for e in ends if e is not None),
    )


def range_costs(
    store: Store, charger: str | None, buckets: Sequence[Range | None]
) -> list[Amounts]:
    """Exact cost per currency of the sessions in each bucket (already clipped to the filter;
    None = no bucket), reading the sessions of the buckets' span a page at a time."""
    found: list[Amounts] = [{} for _ in buckets]
    span = _span(buckets)
    if span is None:
        return found
    where, params = filter_sql(SessionFilter(span[0], span[1], charger))
    plugged = micros_sql(store.dialect, "plugged_at")
    last_id = -1
    while True:
        page = store.query(
            f"SELECT id, {plugged} FROM plugin_session WHERE {where} AND id > ? "
            "ORDER BY id LIMIT ?",
            [*params, last_id, IN_CHUNK],
        )
        if not page:
            return found
        last_id = int(page[-1][0])
        costs = session_costs(store, [int(r[0]) for r in page])
        priced = [(_moment(r[1]), costs[int(r[0])]) for r in page if int(r[0]) in costs]
        _add_to_buckets(found, buckets, sorted(priced, key=lambda p: p[0]))


def _moment(micros: Any) -> datetime:
    moment = utc(int(micros))
    assert moment is not None
    return moment


def _add_to_buckets(
    found: list[Amounts],
    buckets: Sequence[Range | None],
    priced: Sequence[tuple[datetime, Amounts]],
) -> None:
    """Add each session's cost (sorted by plugged_at) to every bucket holding its plugged_at."""
    moments = [moment for moment, _ in priced]
    for index, bucket in enumerate(buckets):
        if bucket is None:
            continue
        low = 0 if bucket[0] is None else bisect_left(moments, bucket[0])
        high = len(moments) if bucket[1] is None else bisect_left(moments, bucket[1])
        for _, amounts in priced[low:high]:
            add_amounts(found[index], amounts)


def daily_series(
    store: Store, filt: SessionFilter, zone: tzinfo, first: date, last: date
) -> list[tuple[date, Totals]]:
    """One bucket per local day from first to last (inclusive), for the daily chart."""
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    totals = range_totals(store, filt, [day_range(d, zone) for d in days])
    return list(zip(days, totals, strict=True))


def monthly_series(
    store: Store, filt: SessionFilter, zone: tzinfo, first: tuple[int, int], last: tuple[int, int]
) -> list[tuple[tuple[int, int], Totals]]:
    """One bucket per local month from first to last (inclusive), for the monthly chart."""
    count = (last[0] - first[0]) * 12 + last[1] - first[1] + 1
    months = [add_months(*first, n) for n in range(count)]
    totals = range_totals(store, filt, [month_range(y, m, zone) for y, m in months])
    return list(zip(months, totals, strict=True))
