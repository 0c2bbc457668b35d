"""The balance and the monthly statement, read from the projection and the money tables.

Everything here is exact: amounts are Decimal per currency (projector.money.costs), energy is
summed as
stored. Nothing rounds: the pages and the CSV round once, when they show a figure, by the one rule
of projector.money.costs, so the balance page, the statement, its CSV and the sessions page agree.

A statement's sessions are selected with exactly the sessions page's month filter (the local
month of plugged_at, webapp.buckets.month_range through projector.sessions.SessionFilter), so a
statement's totals are the sessions page's and `/api/totals/monthly`'s for that month.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from decimal import Decimal
from typing import Any

from journal.storage import Store
from projector.books import Books, range_books
from projector.money.costs import (
    Amounts,
    CostPartRow,
    add_amounts,
    by_session,
    cost_parts_of_sessions,
    is_priced,
    rounded,
    sum_amounts,
    total_cost,
)
from projector.money.store import Payment, list_payments, list_tariffs
from projector.money.tariffs import CONFIG_TARIFF, NO_TARIFF
from projector.sessions import SessionFilter, SessionRow, all_sessions, edge_session
from webapp.buckets import NamedMonth, local_month, month_range
from webapp.totals import monthly_series

# ---- the balance -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Balance:
    """What all sessions cost, what was paid, and the payments (newest first)."""

    due: Amounts
    paid: Amounts
    payments: list[Payment]

    @property
    def balance(self) -> Amounts:
        """Paid minus due, per currency (the original logger's sign: negative = still owed)."""
        currencies = sorted(set(self.due) | set(self.paid))
        return {c: self.paid.get(c, Decimal(0)) - self.due.get(c, Decimal(0)) for c in currencies}

    def lines(self) -> list[tuple[str, str, str, str]]:
        """(currency, due, paid, balance) rounded, one line per currency, for the page."""
        zero = Decimal(0)
        balance = self.balance

        def shown(figures: Amounts, currency: str) -> str:
            return rounded({currency: figures.get(currency, zero)})[currency]

        return [
            (
                currency,
                shown(self.due, currency),
                shown(self.paid, currency),
                shown(balance, currency),
            )
            for currency in balance
        ]

    def as_json(self) -> dict[str, Any]:
        """`/api/balance`: each figure per currency, rounded once; payments as stored."""
        return {
            "due": rounded(self.due),
            "paid": rounded(self.paid),
            "balance": rounded(self.balance),
            "payments": [
                {
                    "id": p.id,
                    "paid_on": p.paid_on.isoformat(),
                    "amount": str(p.amount),
                    "currency": p.currency,
                    "note": p.note,
                }
                for p in self.payments
            ],
        }


def balance_of(store: Store) -> Balance:
    """The whole history's balance: exact sums, never mixing currencies."""
    due = total_cost(store)
    payments = list_payments(store)
    paid: Amounts = {}
    for payment in payments:
        add_amounts(paid, {payment.currency: payment.amount})
    return Balance(due, paid, payments[::-1])


# ---- the statement -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StatementSession:
    """One plug-in of the month with its exact cost per currency (empty: nothing priced)."""

    session: SessionRow
    costs: Amounts


@dataclass(frozen=True)
class BandLine:
    """Energy of the month priced at one price of one tariff (band '' = the base price).
    Energy no tariff covered is a line of its own with no cost (cost None)."""

    tariff_id: int
    band: str
    price: Decimal
    currency: str
    wh: float
    cost: Decimal | None

    @property
    def amounts(self) -> Amounts:
        """The cost as an amount per currency (empty when the energy was not priced)."""
        return {} if self.cost is None else {self.currency: self.cost}

    @property
    def band_text(self) -> str:
        """The band without its trailing price (shown in its own column), or 'base price'."""
        if not self.band:
            return "base price" if self.cost is not None else ""
        head, _, last = self.band.rpartition(" ")
        try:
            same_price = bool(head) and Decimal(last) == self.price
        except ArithmeticError:
            same_price = False
        return head if same_price else self.band


@dataclass(frozen=True)
class Statement(NamedMonth):
    """A local month's sessions, its energy and cost per band, and its totals."""

    year: int
    month: int
    sessions: list[StatementSession]
    bands: list[BandLine]
    tariff_names: dict[int, str]
    books: list[Books]  # the month's books per charger (projector.books)

    @property
    def wh(self) -> Decimal:
        """Exact sum of the sessions' stored energy (what the CSV's energy column adds up to)."""
        return sum((Decimal(repr(s.session.wh)) for s in self.sessions), Decimal(0))

    @property
    def costs(self) -> Amounts:
        """Exact cost per currency of the month (rounded once, when shown)."""
        return sum_amounts(s.costs for s in self.sessions)

    def tariff_name(self, tariff_id: int) -> str:
        return self.tariff_names.get(tariff_id, f"tariff {tariff_id} (since removed)")


def tariff_names(store: Store) -> dict[int, str]:
    """How a statement names each tariff: its id and first day, and its note."""
    names = {NO_TARIFF: "no tariff", CONFIG_TARIFF: "[tariff] in the configuration"}
    for tariff in list_tariffs(store):
        note = f" ({tariff.note})" if tariff.note else ""
        charger = f" for {tariff.charger}" if tariff.charger else ""
        names[tariff.id] = f"tariff {tariff.id} from {tariff.valid_from}{charger}{note}"
    return names


def band_lines(parts: list[CostPartRow]) -> list[BandLine]:
    """The parts grouped by (tariff, band, price, currency): energy summed as stored, cost
    exact; unpriced energy (no tariff in force) keeps its energy and has no cost."""
    energy: dict[tuple[int, str, Decimal, str], float] = {}
    cost: dict[tuple[int, str, Decimal, str], Decimal] = {}
    for part in parts:
        key = (part.tariff_id, part.band, part.price, part.currency)
        energy[key] = energy.get(key, 0.0) + part.wh
        if is_priced(part):
            cost[key] = cost.get(key, Decimal(0)) + part.cost
    # Tariffs in id order, each base price before its bands; unpriced energy last.
    order = sorted(energy, key=lambda k: (k[0] == NO_TARIFF, k[0], k[1] != "", k[1], k[2], k[3]))
    return [BandLine(*key, energy[key], cost.get(key)) for key in order]


def statement_of(store: Store, year: int, month: int, zone: tzinfo) -> Statement:
    """The statement of one local month (the sessions page's month filter)."""
    start, end = month_range(year, month, zone)
    sessions = all_sessions(store, SessionFilter(start, end))
    parts = cost_parts_of_sessions(store, [s.id for s in sessions])
    costs = by_session(parts)
    names = tariff_names(store)
    (books,) = range_books(store, [(start, end)])
    return Statement(
        year,
        month,
        [StatementSession(s, costs.get(s.id, {})) for s in sessions],
        band_lines(parts),
        names,
        books,
    )


@dataclass(frozen=True)
class MonthLine(NamedMonth):
    """One month with sessions, for the statements index."""

    year: int
    month: int
    count: int
    wh: Decimal
    costs: Amounts


def statement_months(store: Store, zone: tzinfo) -> list[MonthLine]:
    """Every local month with a session, newest first, with its count, energy and cost: the
    monthly totals of the sessions page (summed by the database, whatever the history's length)."""
    oldest = edge_session(store, SessionFilter(), newest=False)
    newest = edge_session(store, SessionFilter(), newest=True)
    if oldest is None or newest is None:
        return []
    first, last = local_month(oldest.plugged_at, zone), local_month(newest.plugged_at, zone)
    series = monthly_series(store, SessionFilter(), zone, first, last)
    return [
        MonthLine(year, month, totals.count, Decimal(repr(totals.wh)), totals.costs)
        for (year, month), totals in reversed(series)
        if totals.count
    ]
