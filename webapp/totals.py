"""Totals (count, energy, charging time) over the filtered sessions, computed by the database for
whole buckets, so a month's total stays complete when its sessions span several pages.

Energy is summed as stored (Wh to three decimals, what the API's energy_wh says); the CSV prints
each session's stored energy exactly, in kWh, so its column, the API and the page add up to the
same total, and the page rounds it once, half up, to the digit it shows.

Costs are summed by the database too, per bucket and currency, from session_cost (each session's
exact cost, kept by the projector), exactly (MariaDB's DECIMAL SUM; on SQLite, which stores them as
text, an exact aggregate: Store.exact_sum_sql), over the same half-open ranges as the counts. So a
bucket's cost is the exact sum of its sessions' costs, rounded once when shown, and agrees with the
CSV's exact column and /api/sessions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta, tzinfo
from typing import Any

from journal.storage import Store
from projector.books import Books, range_books
from projector.money.costs import Amounts, add_amounts, as_decimal, cost_fields
from projector.sessions import SessionFilter, filter_sql
from webapp.buckets import Range, add_months, clip, day_range, month_range

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
    counted = _per_bucket(
        store,
        filt.charger,
        clipped,
        lambda index, where: (
            f"SELECT {index}, COUNT(*), COALESCE(SUM(energy_wh), 0), "
            f"COALESCE(SUM(charging_s), 0) FROM plugin_session WHERE {where}"
        ),
    )
    for index, count, energy, charging in counted:
        found[int(index)] = Totals(int(count), float(energy), int(charging))
    costs = range_costs(store, filt.charger, clipped)
    store.rollback()
    return [replace(found.get(i, Totals()), costs=costs[i]) for i in range(len(buckets))]


def range_costs(
    store: Store, charger: str | None, buckets: Sequence[Range | None]
) -> list[Amounts]:
    """Exact cost per currency of the sessions in each bucket (already clipped to the filter;
    None = no bucket), from session_cost: summed by the database per bucket and currency,
    exactly, so years of sessions cost one small result, not their every part."""
    found: list[Amounts] = [{} for _ in buckets]
    total = store.exact_sum_sql("cost")
    summed = _per_bucket(
        store,
        charger,
        buckets,
        lambda index, where: (
            f"SELECT {index}, currency, {total} FROM session_cost WHERE {where} GROUP BY currency"
        ),
    )
    for index, currency, amount in summed:
        add_amounts(found[int(index)], {currency: as_decimal(amount)})
    return found


def _per_bucket(
    store: Store,
    charger: str | None,
    buckets: Sequence[Range | None],
    select: Callable[[int, str], str],
) -> list[tuple[Any, ...]]:
    """One `UNION ALL` statement per CHUNK buckets; `select(index, where)` is a bucket's SELECT,
    its first column the bucket's index, `where` the sessions filter of its range."""
    rows: list[tuple[Any, ...]] = []
    wanted = [(i, r) for i, r in enumerate(buckets) if r is not None]
    for start in range(0, len(wanted), CHUNK):
        selects, params = [], []
        for index, (low, high) in wanted[start : start + CHUNK]:
            where, args = filter_sql(SessionFilter(low, high, charger))
            selects.append(select(index, where))
            params += args
        rows += store.query(" UNION ALL ".join(selects), params)
    return rows


def daily_series(
    store: Store, filt: SessionFilter, zone: tzinfo, first: date, last: date
) -> list[tuple[date, Totals]]:
    """One bucket per local day from first to last (inclusive), for the daily chart."""
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    totals = range_totals(store, filt, [day_range(d, zone) for d in days])
    return list(zip(days, totals, strict=True))


def monthly_books(
    store: Store, zone: tzinfo, months: Sequence[tuple[int, int]], charger: str | None = None
) -> dict[tuple[int, int], list[Books]]:
    """The books against each charger's meter per local month (projector.books), over the same
    ranges as the month's totals."""
    found = range_books(store, [month_range(y, m, zone) for y, m in months], charger)
    return dict(zip(months, found, strict=True))


def monthly_series(
    store: Store, filt: SessionFilter, zone: tzinfo, first: tuple[int, int], last: tuple[int, int]
) -> list[tuple[tuple[int, int], Totals]]:
    """One bucket per local month from first to last (inclusive), for the monthly chart."""
    count = (last[0] - first[0]) * 12 + last[1] - first[1] + 1
    months = [add_months(*first, n) for n in range(count)]
    totals = range_totals(store, filt, [month_range(y, m, zone) for y, m in months])
    return list(zip(months, totals, strict=True))
