"""Exact amounts and currency codes as people type them (in the config, on the command line):
shared by `[tariff]` in the configuration and by `chargelog tariff|payment`, so a price is
accepted or refused by the same rule wherever it is typed. Pure: text in, Decimal out."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation


def parse_decimal(
    text: str, what: str, digits: int, places: int, *, allow_negative: bool = False
) -> Decimal:
    """An exact amount that DECIMAL(digits, places) stores without rounding."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{what} {text!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{what} {text!r} is not a number")
    if value < 0 and not allow_negative:
        raise ValueError(f"{what} {text!r} is negative")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -places:
        raise ValueError(f"{what} {text!r} has more than {places} decimals")
    if abs(value) >= Decimal(10) ** (digits - places):
        raise ValueError(f"{what} {text!r} is too large")
    return value


def parse_price(text: str) -> Decimal:
    """A price per kWh: what tariff.price_per_kwh (DECIMAL(10,4)) holds."""
    return parse_decimal(text, "price", 10, 4)


def parse_currency(text: str) -> str:
    code = text.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise ValueError(f"currency {text!r} is not a 3-letter code (EUR, CHF, USD...)")
    return code
