"""Tariffs as values, and the pure pricing of energy: which price applies at a local moment, and
how an interval's energy splits across band and tariff boundaries.

No I/O here (projector/money/store.py reads and writes the tables, projector/money/parsing.py
reads what people type), so the rules are tested
directly and the projector, the pages and the statements all price energy the same way.

Money is decimal.Decimal, never float. Costs are exact: nothing here rounds. Rounding happens
once, at display, to the currency's cents with ROUND_HALF_UP (see `display_amount`); sums are taken
over the exact values and rounded once (projector/money/costs.py), so a total never drifts with the
number of lines it sums.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Context, Decimal, Inexact, InvalidOperation

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALL_DAYS = frozenset(range(7))
NO_TARIFF = 0  # tariff id of energy no tariff covers (energySession.tarifid's "none")
CONFIG_TARIFF = -1  # tariff id of the [tariff] section of the configuration (the single price)
WEEK_MINUTES = 7 * 24 * 60

# Wide enough that a product of a float's 17 digits and a price's 10 never rounds; Inexact traps,
# so an inexact result is a loud error rather than a silent cent.
EXACT = Context(prec=80, traps=[Inexact, InvalidOperation])


@dataclass(frozen=True)
class Band:
    """A time-of-use price on some weekdays (0 = Monday) from `start` to `end` local time.

    An end before the start wraps past midnight and belongs to the weekday it starts on; an end
    equal to the start is a whole day (24 hours from the start)."""

    days: frozenset[int]
    start: time
    end: time
    price: Decimal

    @property
    def wraps(self) -> bool:
        return self.end <= self.start

    def covers(self, weekday: int, clock: time) -> bool:
        """Whether local wall-clock `clock` on `weekday` is inside this band."""
        if not self.wraps:
            return weekday in self.days and self.start <= clock < self.end
        if clock >= self.start:
            return weekday in self.days
        return (weekday - 1) % 7 in self.days and clock < self.end

    def week_spans(self) -> list[tuple[int, int]]:
        """The minutes of the week it covers, as [start, end) spans (for overlap checks)."""
        start = self.start.hour * 60 + self.start.minute
        length = (self.end.hour * 60 + self.end.minute - start) % (24 * 60) or 24 * 60
        spans = []
        for day in sorted(self.days):
            first = day * 24 * 60 + start
            last = first + length
            if last <= WEEK_MINUTES:
                spans.append((first, last))
            else:  # Sunday night into Monday morning
                spans += [(first, WEEK_MINUTES), (0, last - WEEK_MINUTES)]
        return spans

    @property
    def mask(self) -> str:
        """The days as stored: 7 characters, Monday first, '1' = on."""
        return "".join("1" if day in self.days else "0" for day in range(7))

    def label(self) -> str:
        """The band as `--band` takes it back: 'mon-fri 22:00-07:00 0.0920'."""
        return f"{days_label(self.days)} {self.start:%H:%M}-{self.end:%H:%M} {self.price}"


@dataclass(frozen=True)
class Tariff:
    """A price per kWh from a local date on, for one charger or (charger None) for all."""

    id: int
    valid_from: date
    price: Decimal
    currency: str = "EUR"
    charger: str | None = None
    bands: tuple[Band, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class CostPart:
    """Energy priced at one price of one tariff (band None = the base price), with its exact
    cost: Decimal(str(wh)) / 1000 * price, unrounded."""

    tariff_id: int
    band: Band | None
    price: Decimal
    currency: str
    wh: float
    cost: Decimal


# ---- the days as text ----------------------------------------------------------------------------


def days_label(days: frozenset[int]) -> str:
    """The shortest readable form: 'all', 'mon-fri', 'sat,sun', 'mon,wed-fri'."""
    if days == ALL_DAYS:
        return "all"
    runs: list[list[int]] = []
    for day in sorted(days):
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{DAY_NAMES[run[0]]}-{DAY_NAMES[run[-1]]}")
        else:
            parts += [DAY_NAMES[day] for day in run]
    return ",".join(parts)


def days_from_mask(mask: str) -> frozenset[int]:
    if len(mask) != 7 or set(mask) - {"0", "1"}:
        raise ValueError(f"{mask!r} is not a 7-day mask")
    return frozenset(day for day, on in enumerate(mask) if on == "1")


# ---- pricing -----------------------------------------------------------------------------------


def tariff_for(tariffs: Iterable[Tariff], charger: str, day: date) -> Tariff | None:
    """The tariff in force on local `day`: the newest valid_from; on the same date a charger's
    own tariff wins over an all-chargers one, then the one entered last (highest id)."""
    best: Tariff | None = None
    for tariff in tariffs:
        if tariff.valid_from > day or tariff.charger not in (None, charger):
            continue
        key = (tariff.valid_from, tariff.charger is not None, tariff.id)
        if best is None or key > (best.valid_from, best.charger is not None, best.id):
            best = tariff
    return best


def price_at(
    tariffs: Iterable[Tariff], charger: str, moment: datetime
) -> tuple[Decimal, int, Band | None]:
    """(price per kWh, tariff id, band or None) at a local wall-clock moment; NO_TARIFF and 0
    when no tariff covers it yet. A band of the tariff overrides its base price."""
    # The tariff of the moment's local date (a change at midnight applies from then on), then
    # that tariff's bands (a band wrapping past midnight belongs to the day it starts on).
    tariff = tariff_for(tariffs, charger, moment.date())
    if tariff is None:
        return Decimal(0), NO_TARIFF, None
    weekday, clock = moment.weekday(), moment.time().replace(tzinfo=None)
    for band in tariff.bands:
        if band.covers(weekday, clock):
            return band.price, tariff.id, band
    return tariff.price, tariff.id, None


def split_cost(
    tariffs: Sequence[Tariff],
    charger: str,
    intervals: Iterable[tuple[datetime, datetime, float]],
    zone: tzinfo,
) -> list[CostPart]:
    """Price energy increments (start UTC, end UTC, Wh): each interval's Wh is spread evenly over
    its time and cut wherever the local price changes (band edges, local midnights, DST jumps),
    then summed per (tariff, band, price). Exact: rounding is for display only."""
    totals: dict[tuple[int, Band | None, Decimal], float] = {}
    currency = {tariff.id: tariff.currency for tariff in tariffs}
    edges = {clock for tr in tariffs for band in tr.bands for clock in (band.start, band.end)}
    clocks = sorted(edges | {time(0, 0)})
    for start, end, wh in intervals:
        if end < start:
            raise ValueError(f"interval ends ({end}) before it starts ({start})")
        if end == start:
            price, tariff_id, band = price_at(tariffs, charger, start.astimezone(zone))
            key = (tariff_id, band, price)
            totals[key] = totals.get(key, 0.0) + wh
            continue
        length = (end - start).total_seconds()
        for seg_start, seg_end in _segments(start, end, zone, clocks):
            price, tariff_id, band = price_at(tariffs, charger, seg_start.astimezone(zone))
            key = (tariff_id, band, price)
            share = wh * ((seg_end - seg_start).total_seconds() / length)
            totals[key] = totals.get(key, 0.0) + share
    return [
        CostPart(tid, band, price, currency.get(tid, ""), wh, energy_cost(wh, price))
        for (tid, band, price), wh in totals.items()
    ]


def energy_cost(wh: float, price: Decimal) -> Decimal:
    """The exact cost of `wh` at `price` per kWh, from the shortest decimal form of the float."""
    return EXACT.multiply(EXACT.divide(Decimal(repr(wh)), Decimal(1000)), price)


def display_amount(amount: Decimal) -> Decimal:
    """The one rounding rule: to cents, halves away from zero (ROUND_HALF_UP). A negative amount
    that rounds to nothing (a balance of -0.004) shows as 0.00, not -0.00."""
    shown = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return shown if shown else shown.copy_abs()


def _segments(
    start: datetime, end: datetime, zone: tzinfo, clocks: Sequence[time]
) -> Iterator[tuple[datetime, datetime]]:
    """[start, end) cut at every UTC instant where the local price may change: each local
    wall-clock time in `clocks` (both instants of a repeated one) and each UTC offset change."""
    cursor = start
    while cursor < end:
        local = cursor.astimezone(zone)
        cut = min([end, *(c for c in _wall_instants(local.date(), clocks, zone) if c > cursor)])
        jump = _offset_change(cursor, cut, zone)
        cut = jump or cut
        yield cursor, cut
        cursor = cut


def _wall_instants(day: date, clocks: Sequence[time], zone: tzinfo) -> Iterator[datetime]:
    for when in (day, day + timedelta(days=1)):
        for clock in clocks:
            wall = datetime.combine(when, clock, tzinfo=zone)
            for fold in (0, 1):
                yield wall.replace(fold=fold).astimezone(UTC)


def _offset_change(a: datetime, b: datetime, zone: tzinfo) -> datetime | None:
    """The first instant in (a, b) where the zone's UTC offset differs from at `a` (a DST jump),
    by bisection to the microsecond; None when the offset stays the same."""
    offset = a.astimezone(zone).utcoffset()
    step = timedelta(microseconds=1)
    if (b - step).astimezone(zone).utcoffset() == offset:
        return None  # segments span at most ~25 hours: never two changes in one
    low, high = a, b - step  # offset(low) == offset, offset(high) != offset
    while high - low > step:
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == offset:
            low = middle
        else:
            high = middle
    return high
