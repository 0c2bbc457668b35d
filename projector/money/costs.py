"""Reading costs back from `cycle_cost`: exact amounts per currency for cycles, plug-in sessions
and ranges, and the one way every view (CLI, page, CSV, API, statement) shows them.

The rule, in one place:
- `cycle_cost.cost` is exact (never rounded). Sums are taken over the exact values, in
  decimal.Decimal, never float (SQLite stores the cost as TEXT, MariaDB as DECIMAL: both are read
  back through `Decimal(str(value))`).
- Rounding happens once, when an amount is shown: to cents, halves away from zero
  (`projector.money.tariffs.display_amount`). A total is the exact sum rounded once, so it can
  differ by a
  cent from the sum of the rounded lines above it; it never drifts with the number of lines.
- Amounts in different currencies are never added together: every sum is kept per currency, and a
  mixed sum is shown as its parts ("12.40 EUR + 3.10 CHF").
- Energy no tariff covered is priced at nothing and shows as no cost (None), not as 0.00.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from journal.storage import Store, in_chunks, placeholders
from projector.money.tariffs import NO_TARIFF, display_amount

# currency -> exact amount
Amounts = dict[str, Decimal]


def as_decimal(value: Any) -> Decimal:
    """A stored amount (TEXT on SQLite, DECIMAL on MariaDB) as an exact Decimal."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


def add_amounts(total: Amounts, more: Mapping[str, Decimal]) -> Amounts:
    """Add `more` into `total` (in place, per currency) and return it."""
    for currency, amount in more.items():
        total[currency] = total.get(currency, Decimal(0)) + amount
    return total


def sum_amounts(parts: Iterable[Mapping[str, Decimal]]) -> Amounts:
    total: Amounts = {}
    for part in parts:
        add_amounts(total, part)
    return total


def rounded(amounts: Mapping[str, Decimal]) -> dict[str, str]:
    """Each currency's amount rounded for display, as text ("12.40"): for JSON and CSV."""
    return {currency: str(display_amount(amounts[currency])) for currency in sorted(amounts)}


def single_currency(amounts: Mapping[str, Decimal]) -> tuple[str | None, str | None]:
    """(rounded amount, currency) when there is exactly one currency, else (None, None): the
    `cost` and `currency` keys of a session, a cycle or a total."""
    if len(amounts) != 1:
        return None, None
    ((currency, amount),) = amounts.items()
    return str(display_amount(amount)), currency


def display_text(amounts: Mapping[str, Decimal]) -> str:
    """ "12.40 EUR", "12.40 EUR + 3.10 CHF", or "" when nothing was priced."""
    return " + ".join(f"{value} {currency}" for currency, value in rounded(amounts).items())


def cost_fields(amounts: Mapping[str, Decimal]) -> dict[str, Any]:
    """The JSON keys every view adds for an amount: `cost` (rounded text, or null when nothing
    was priced or the currencies are mixed), `currency`, and `costs` (currency -> rounded)."""
    cost, currency = single_currency(amounts)
    return {"cost": cost, "currency": currency, "costs": rounded(amounts)}


# ---- reading cycle_cost ----------------------------------------------------------------------


@dataclass(frozen=True)
class CostPartRow:
    """One line of cycle_cost: energy priced at one price of one tariff (band '' = base price)."""

    cycle_id: int
    plugin_id: int
    tariff_id: int
    band: str
    price: Decimal
    currency: str
    wh: float
    cost: Decimal


# The parts of cycles that exist (a JOIN, so every reader sees the same set).
_PARTS_SELECT = (
    "SELECT c.cycle_id, e.plugin_id, c.tariff_id, c.band, c.price, c.currency, c.wh, "
    "c.cost FROM cycle_cost c JOIN energySession e ON e.id = c.cycle_id"
)


def cost_parts_of_sessions(store: Store, plugin_ids: Sequence[int]) -> list[CostPartRow]:
    """Every priced part of the cycles of some plug-in sessions (chunked IN lists)."""
    parts: list[CostPartRow] = []
    for chunk in in_chunks(list(plugin_ids)):
        marks = placeholders(chunk)
        rows = store.query(
            f"{_PARTS_SELECT} WHERE e.plugin_id IN ({marks}) "
            "ORDER BY c.cycle_id, c.tariff_id, c.band, c.price",
            list(chunk),
        )
        parts += [_part(row) for row in rows]
    return parts


def _part(row: Sequence[Any]) -> CostPartRow:
    cycle_id, plugin_id, tariff_id, band, price, currency, wh, cost = row
    return CostPartRow(
        int(cycle_id),
        int(plugin_id),
        int(tariff_id),
        band,
        as_decimal(price),
        currency,
        float(wh),
        as_decimal(cost),
    )


def is_priced(part: CostPartRow) -> bool:
    """Energy no tariff covered (tariff 0) carries no cost, in no currency."""
    return part.tariff_id != NO_TARIFF and bool(part.currency)


def _priced(parts: Iterable[CostPartRow]) -> Iterable[CostPartRow]:
    return (part for part in parts if is_priced(part))


def by_session(parts: Iterable[CostPartRow]) -> dict[int, Amounts]:
    found: dict[int, Amounts] = {}
    for part in _priced(parts):
        add_amounts(found.setdefault(part.plugin_id, {}), {part.currency: part.cost})
    return found


# Summed by the database (exactly: Store.exact_sum_sql), so only the sums travel through the
# driver, not every part: what keeps the all-time totals and the CSV of years of sessions fast.
PRICED_SQL = f"c.tariff_id <> {NO_TARIFF} AND c.currency <> ''"  # is_priced, in SQL


def cycle_costs(
    store: Store, plugin_ids: Sequence[int]
) -> tuple[dict[int, Amounts], dict[int, Amounts]]:
    """Exact cost per currency of each cycle, and of each plug-in session (the sum of its
    cycles'), of some sessions; absent: nothing priced."""
    cycles: dict[int, Amounts] = {}
    sessions: dict[int, Amounts] = {}
    total = store.exact_sum_sql("c.cost")
    for chunk in in_chunks(list(plugin_ids)):
        marks = placeholders(chunk)
        rows = store.query(
            f"SELECT e.plugin_id, c.cycle_id, c.currency, {total} "
            "FROM cycle_cost c JOIN energySession e ON e.id = c.cycle_id "
            f"WHERE e.plugin_id IN ({marks}) AND {PRICED_SQL} "
            "GROUP BY e.plugin_id, c.cycle_id, c.currency",
            list(chunk),
        )
        for plugin_id, cycle_id, currency, amount in rows:
            exact = {currency: as_decimal(amount)}
            add_amounts(cycles.setdefault(int(cycle_id), {}), exact)
            add_amounts(sessions.setdefault(int(plugin_id), {}), exact)
    return cycles, sessions


def session_costs(store: Store, plugin_ids: Sequence[int]) -> dict[int, Amounts]:
    """Exact cost per currency of each plug-in session (absent: nothing priced), as the
    projector keeps it in session_cost."""
    found: dict[int, Amounts] = {}
    for chunk in in_chunks(list(plugin_ids)):
        marks = placeholders(chunk)
        rows = store.query(
            f"SELECT plugin_id, currency, cost FROM session_cost WHERE plugin_id IN ({marks})",
            list(chunk),
        )
        for plugin_id, currency, amount in rows:
            add_amounts(found.setdefault(int(plugin_id), {}), {currency: as_decimal(amount)})
    return found


def session_costs_where(store: Store, where: str, params: Sequence[Any]) -> dict[int, Amounts]:
    """session_costs for the sessions `where` selects (projector.sessions.filter_sql: session_cost
    has plugged_at and charger too): one query for a whole export, not one per 500 ids."""
    found: dict[int, Amounts] = {}
    for plugin_id, currency, amount in store.query(
        f"SELECT plugin_id, currency, cost FROM session_cost WHERE {where}", list(params)
    ):
        add_amounts(found.setdefault(int(plugin_id), {}), {currency: as_decimal(amount)})
    return found


def total_cost(store: Store, where: str = "1 = 1", params: Sequence[Any] = ()) -> Amounts:
    """Exact cost per currency of the plug-in sessions `where` selects (on session_cost's
    plugged_at and charger: projector.sessions.filter_sql); by default of all of them, what the
    balance page says is due."""
    rows = store.query(
        f"SELECT currency, {store.exact_sum_sql('cost')} FROM session_cost "
        f"WHERE {where} GROUP BY currency",
        list(params),
    )
    store.rollback()
    return {currency: as_decimal(amount) for currency, amount in rows}


# ---- showing the parts -----------------------------------------------------------------------


def exact_text(amount: Decimal) -> str:
    """An exact amount as plain text, never rounded, at least to the cent ("1.44", "0.0115"):
    for a CSV column whose sum is the exact total (rounded once by whoever shows it)."""
    if amount == amount.quantize(Decimal("0.01")):
        return str(amount.quantize(Decimal("0.01")))
    return f"{amount.normalize():f}"


def exact_fields(amounts: Mapping[str, Decimal]) -> dict[str, Any]:
    """`costs_exact` (currency -> exact text): beside `cost_fields` where rows are listed, so a
    script summing them gets the exact total the page rounds once."""
    return {"costs_exact": {c: exact_text(amounts[c]) for c in sorted(amounts)}}


def columns(amounts: Mapping[str, Decimal]) -> tuple[str, str, str]:
    """(cost, cost_exact, currency) for a CSV row of one session: the amount as shown, the exact
    one (a column of it sums to the exact total) and the currency; all "" when nothing was priced;
    mixed currencies as "3.10 CHF + 12.40 EUR" (and exact) with no single currency."""
    if len(amounts) == 1:
        ((currency, amount),) = amounts.items()
        return str(display_amount(amount)), exact_text(amount), currency
    exact = " + ".join(f"{exact_text(amounts[c])} {c}" for c in sorted(amounts))
    return display_text(amounts), exact, ""
