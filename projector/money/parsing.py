"""Tariff input as people type it (`--band "mon-fri 22:00-07:00 0.0920"`, prices, currencies),
parsed into projector/money/tariffs.py values with errors that say what is wrong and how to write
it."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from datetime import time

from journal.amount_text import parse_price
from projector.money.tariffs import ALL_DAYS, DAY_NAMES, Band

_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")


def parse_days(text: str) -> frozenset[int]:
    """'mon-fri', 'sat,sun', 'fri-mon' (wraps), 'all' -> weekday numbers (0 = Monday)."""
    days: set[int] = set()
    for item in text.lower().split(","):
        item = item.strip()
        if item == "all":
            days |= ALL_DAYS
            continue
        first, sep, last = item.partition("-")
        a, b = _day(first), _day(last) if sep else _day(first)
        days |= {(a + step) % 7 for step in range((b - a) % 7 + 1)}
    return frozenset(days)


def _day(name: str) -> int:
    if name not in DAY_NAMES:
        raise ValueError(f"{name!r} is not a day (mon, tue, wed, thu, fri, sat, sun or all)")
    return DAY_NAMES.index(name)


def parse_clock(text: str, *, end: bool = False) -> time:
    """'HH:MM' -> time; an end may be '24:00' (midnight)."""
    match = _TIME.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a time (HH:MM)")
    hour, minute = int(match[1]), int(match[2])
    if end and (hour, minute) == (24, 0):
        return time(0, 0)
    if hour > 23 or minute > 59:
        raise ValueError(f"{text!r} is not a time of day (00:00 to 23:59)")
    return time(hour, minute)


def parse_band(text: str) -> Band:
    """`--band "mon-fri 22:00-07:00 0.0920"` -> Band; ValueError naming what is wrong."""
    fields = text.split()
    if len(fields) != 3:
        raise ValueError(f"band {text!r}: expected 'DAYS HH:MM-HH:MM PRICE'")
    try:
        days = parse_days(fields[0])
        first, sep, last = fields[1].partition("-")
        if not sep:
            raise ValueError(f"{fields[1]!r} is not a time range (HH:MM-HH:MM)")
        return Band(days, parse_clock(first), parse_clock(last, end=True), parse_price(fields[2]))
    except ValueError as exc:
        raise ValueError(f"band {text!r}: {exc}") from None


def check_bands(bands: Sequence[Band]) -> None:
    """Refuse overlapping bands: which price applies must never depend on their order."""
    spans = sorted(
        ((span, band) for band in bands for span in band.week_spans()), key=lambda item: item[0]
    )
    for (a, band_a), (b, band_b) in itertools.pairwise(spans):
        if b[0] < a[1]:
            raise ValueError(f"bands {band_a.label()!r} and {band_b.label()!r} overlap")
