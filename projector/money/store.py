"""Reading and writing tariffs, their bands and payments, the same on SQLite and MariaDB.

Amounts go in as text ('0.1850') and come back as decimal.Decimal: SQLite stores them as TEXT,
MariaDB as DECIMAL, and neither path ever goes through a float. Dates go in as 'YYYY-MM-DD'.
There is no `[tariff]` config fallback yet: tariffs come from the database only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from journal.entries import stored_text
from journal.storage import Store
from projector.money.tariffs import Band, Tariff, days_from_mask


@dataclass(frozen=True)
class Payment:
    """Money received (the original logger's `versement`)."""

    id: int
    paid_on: date
    amount: Decimal
    currency: str = "EUR"
    note: str = ""


def _text(amount: Decimal, places: int) -> str:
    """The same text on both backends ('0.1850' as MariaDB's DECIMAL gives it back)."""
    return str(amount.quantize(Decimal(1).scaleb(-places)))


def _now() -> str:
    return stored_text(datetime.now(UTC))


def _date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _clock(value: Any) -> time:
    return time.fromisoformat(str(value))


def add_tariff(store: Store, tariff: Tariff) -> int:
    """Store a tariff and its bands in one transaction; returns its new id (tariff.id ignored)."""
    with store.transaction():
        return insert_tariff(store, tariff)


def insert_tariff(store: Store, tariff: Tariff) -> int:
    """add_tariff inside the caller's transaction (an import writes many things at once)."""
    new_id = store.insert_id(
        "INSERT INTO tariff (valid_from, price_per_kwh, currency, charger, note, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (
            tariff.valid_from.isoformat(),
            _text(tariff.price, 4),
            tariff.currency,
            tariff.charger,
            tariff.note,
            _now(),
        ),
    )
    for band in tariff.bands:
        store.execute(
            "INSERT INTO tariff_band (tariff_id, days, start_time, end_time, price_per_kwh) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                new_id,
                band.mask,
                f"{band.start:%H:%M}",
                f"{band.end:%H:%M}",
                _text(band.price, 4),
            ),
        )
    return new_id


def list_tariffs(store: Store) -> list[Tariff]:
    """Every tariff with its bands (in the order entered), oldest valid_from first."""
    bands: dict[int, list[Band]] = {}
    for tariff_id, days, start, end, price in store.query(
        "SELECT tariff_id, days, start_time, end_time, price_per_kwh FROM tariff_band ORDER BY id"
    ):
        band = Band(days_from_mask(str(days)), _clock(start), _clock(end), _decimal(price))
        bands.setdefault(int(tariff_id), []).append(band)
    rows = store.query(
        "SELECT id, valid_from, price_per_kwh, currency, charger, note FROM tariff "
        "ORDER BY valid_from, id"
    )
    store.rollback()  # end the read snapshot (MariaDB's REPEATABLE READ would keep it)
    return [
        Tariff(
            int(tid),
            _date(valid_from),
            _decimal(price),
            str(currency),
            charger,
            tuple(bands.get(int(tid), ())),
            str(note),
        )
        for tid, valid_from, price, currency, charger, note in rows
    ]


def remove_tariff(store: Store, tariff_id: int) -> bool:
    """Delete a tariff and its bands; False when there is no such tariff."""
    with store.transaction():
        store.execute("DELETE FROM tariff_band WHERE tariff_id = ?", (tariff_id,))
        return store.execute("DELETE FROM tariff WHERE id = ?", (tariff_id,)) > 0


def add_payment(store: Store, payment: Payment) -> int:
    """Store a payment; returns its new id (payment.id ignored)."""
    with store.transaction():
        return insert_payment(store, payment)


def insert_payment(store: Store, payment: Payment) -> int:
    """add_payment inside the caller's transaction."""
    return store.insert_id(
        "INSERT INTO payment (paid_on, amount, currency, note, created_at) VALUES (?, ?, ?, ?, ?)",
        (
            payment.paid_on.isoformat(),
            _text(payment.amount, 2),
            payment.currency,
            payment.note,
            _now(),
        ),
    )


def list_payments(store: Store) -> list[Payment]:
    """Every payment, oldest first."""
    rows = store.query(
        "SELECT id, paid_on, amount, currency, note FROM payment ORDER BY paid_on, id"
    )
    store.rollback()
    return [
        Payment(int(pid), _date(paid_on), _decimal(amount), str(currency), str(note))
        for pid, paid_on, amount, currency, note in rows
    ]


def remove_payment(store: Store, payment_id: int) -> bool:
    """Delete a payment; False when there is no such payment."""
    with store.transaction():
        return store.execute("DELETE FROM payment WHERE id = ?", (payment_id,)) > 0
