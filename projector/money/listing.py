"""Tariffs and payments as readable text tables for the terminal (pure: values in, text out)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from projector.money.store import Payment
from projector.money.tariffs import CONFIG_TARIFF, Tariff


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    ]


def tariff_table(tariffs: Sequence[Tariff]) -> str:
    """One line per tariff, then its bands indented under it; prices exactly as stored."""
    if not tariffs:
        return "no tariffs (add one with `chargelog tariff add --from DATE --price PRICE`)\n"
    rows = [
        [
            "config" if t.id == CONFIG_TARIFF else str(t.id),
            "(always)" if t.valid_from == date.min else t.valid_from.isoformat(),
            f"{t.price} {t.currency}/kWh",
            t.charger or "(all)",
            t.note,
        ]
        for t in tariffs
    ]
    lines = _table(["id", "from", "base price", "charger", "note"], rows)
    out = [lines[0]]
    for tariff, line in zip(tariffs, lines[1:], strict=True):
        out.append(line)
        out += [f"    band {band.label()} {tariff.currency}/kWh" for band in tariff.bands]
    return "\n".join(out) + "\n"


def payment_table(payments: Sequence[Payment]) -> str:
    """One line per payment, oldest first, with the total per currency."""
    if not payments:
        return "no payments (add one with `chargelog payment add DATE AMOUNT`)\n"
    rows = [
        [str(p.id), p.paid_on.isoformat(), f"{p.amount} {p.currency}", p.note] for p in payments
    ]
    lines = _table(["id", "paid on", "amount", "note"], rows)
    totals: dict[str, Decimal] = {}
    for p in payments:
        totals[p.currency] = totals.get(p.currency, Decimal(0)) + p.amount
    lines += [f"total {amount} {currency}" for currency, amount in sorted(totals.items())]
    return "\n".join(lines) + "\n"
