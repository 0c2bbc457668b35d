"""Pricing rules (projector/money/tariffs.py), issue 5: bands, tariff changes, DST nights, exact
money."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projector.money.parsing import check_bands, parse_band, parse_days
from projector.money.tariffs import (
    EXACT,
    NO_TARIFF,
    Band,
    CostPart,
    Tariff,
    days_label,
    display_amount,
    price_at,
    split_cost,
)

PARIS = ZoneInfo("Europe/Paris")
D = Decimal
NIGHT = parse_band("mon-fri 22:00-07:00 0.0920")
BASE = Tariff(1, date(2026, 1, 1), D("0.1850"), bands=(NIGHT,))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def by_price(parts: list[CostPart]) -> dict[Decimal, float]:
    return {part.price: round(part.wh, 6) for part in parts}


# ---- parsing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "days", "start", "end", "price"),
    [
        ("mon-fri 22:00-07:00 0.0920", "mon-fri", time(22), time(7), "0.0920"),
        ("sat,sun 00:00-24:00 0.1", "sat,sun", time(0), time(0), "0.1"),
        ("all 12:30-14:00 0", "all", time(12, 30), time(14), "0"),
        ("fri-mon 9:00-17:00 0.2", "mon,fri-sun", time(9), time(17), "0.2"),
        ("MON,wed-fri 06:00-08:00 0.15", "mon,wed-fri", time(6), time(8), "0.15"),
    ],
)
def test_parse_band(text: str, days: str, start: time, end: time, price: str) -> None:
    band = parse_band(text)
    assert (days_label(band.days), band.start, band.end, band.price) == (days, start, end, D(price))
    assert parse_band(band.label()) == band


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mon-fri 22:00-07:00", "expected 'DAYS HH:MM-HH:MM PRICE'"),
        ("mon-fry 22:00-07:00 0.1", "'fry' is not a day"),
        ("mon 22:00 0.1", "is not a time range"),
        ("mon 25:00-07:00 0.1", "'25:00' is not a time of day"),
        ("mon 22h-07:00 0.1", "'22h' is not a time (HH:MM)"),
        ("mon 22:00-07:00 abc", "price 'abc' is not a number"),
        ("mon 22:00-07:00 -0.1", "price '-0.1' is negative"),
        ("mon 22:00-07:00 0.12345", "more than 4 decimals"),
        ("mon 22:00-07:00 NaN", "is not a number"),
        ("mon 22:00-07:00 1000000", "too large"),
    ],
)
def test_parse_band_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match="band") as caught:
        parse_band(text)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("bands", "overlap"),
    [
        (["mon-fri 22:00-07:00 0.1", "sat,sun 08:00-20:00 0.2"], False),
        (["mon-fri 22:00-07:00 0.1", "sat 00:00-00:00 0.2"], True),  # Friday night into Sat
        (["sun 22:00-07:00 0.1", "mon 06:00-08:00 0.2"], True),  # Sunday night into Monday
        (["mon 08:00-12:00 0.1", "mon 12:00-14:00 0.2"], False),  # touching is fine
    ],
)
def test_overlapping_bands_refused(bands: list[str], overlap: bool) -> None:
    parsed = [parse_band(text) for text in bands]
    if overlap:
        with pytest.raises(ValueError, match="overlap"):
            check_bands(parsed)
    else:
        check_bands(parsed)


def test_days_round_trip() -> None:
    assert parse_days("all") == frozenset(range(7))
    assert parse_days("sat-mon") == frozenset({5, 6, 0})


# ---- price_at -----------------------------------------------------------------------------------

ALL = Tariff(1, date(2026, 1, 1), D("0.1850"))
GARAGE = Tariff(2, date(2026, 1, 1), D("0.1500"), charger="garage")
LATER = Tariff(3, date(2026, 2, 1), D("0.2000"))
OLD_GARAGE = Tariff(4, date(2025, 6, 1), D("0.1000"), charger="garage")


@pytest.mark.parametrize(
    ("charger", "moment", "expected"),
    [
        ("garage", datetime(2026, 1, 15, 12), 2),  # its own tariff, same date as the shared one
        ("street", datetime(2026, 1, 15, 12), 1),
        ("garage", datetime(2026, 2, 15, 12), 3),  # a newer shared tariff beats an older own one
        ("garage", datetime(2025, 12, 31, 23, 59), 4),
        ("street", datetime(2025, 12, 31, 23, 59), NO_TARIFF),
        ("street", datetime(2026, 2, 1, 0, 0), 3),  # valid_from is inclusive, local midnight
    ],
)
def test_charger_specific_tariff(charger: str, moment: datetime, expected: int) -> None:
    assert price_at([ALL, GARAGE, LATER, OLD_GARAGE], charger, moment)[1] == expected


@pytest.mark.parametrize(
    ("moment", "price", "in_band"),
    [
        (datetime(2026, 1, 5, 21, 59), "0.1850", False),  # Monday
        (datetime(2026, 1, 5, 22, 0), "0.0920", True),
        (datetime(2026, 1, 6, 6, 59), "0.0920", True),
        (datetime(2026, 1, 6, 7, 0), "0.1850", False),  # the end is exclusive
        (datetime(2026, 1, 10, 6, 0), "0.0920", True),  # Saturday morning: Friday's band
        (datetime(2026, 1, 10, 22, 0), "0.1850", False),  # Saturday night: no band
        (datetime(2026, 1, 5, 6, 0), "0.1850", False),  # Monday morning: Sunday had none
    ],
)
def test_band_by_weekday_and_time(moment: datetime, price: str, in_band: bool) -> None:
    found, tariff_id, band = price_at([BASE], "x", moment)
    assert (found, tariff_id, band is not None) == (D(price), 1, in_band)


# ---- split_cost: the tables of issue 5 ----------------------------------------------------------

HOURLY_21_01 = [(utc(2026, 1, 5, 20 + h), utc(2026, 1, 5, 21 + h), 1000.0) for h in range(3)]
HOURLY_21_01 += [(utc(2026, 1, 5, 23), utc(2026, 1, 6, 0), 1000.0)]
CHANGE = Tariff(2, date(2026, 1, 6), D("0.2000"))


@pytest.mark.parametrize(
    ("tariffs", "intervals", "expected"),
    [
        # Monday 21:00-01:00 Paris across the 22:00 band, hourly increments and one long one
        ([BASE], HOURLY_21_01, {D("0.1850"): 1000, D("0.0920"): 3000}),
        (
            [BASE],
            [(utc(2026, 1, 5, 20), utc(2026, 1, 6, 0), 4000.0)],
            {D("0.1850"): 1000, D("0.0920"): 3000},
        ),
        # a tariff change at local midnight in the middle of a session (22:00-02:00 local)
        (
            [Tariff(1, date(2026, 1, 1), D("0.1850")), CHANGE],
            [(utc(2026, 1, 5, 21), utc(2026, 1, 6, 1), 4000.0)],
            {D("0.1850"): 2000, D("0.2000"): 2000},
        ),
        # spring forward, 2026-03-29: 01:00 CET to 04:00 CEST is two real hours
        (
            [Tariff(1, date(2026, 1, 1), D("0.2"), bands=(parse_band("all 03:00-07:00 0.1"),))],
            [(utc(2026, 3, 29, 0), utc(2026, 3, 29, 2), 2000.0)],
            {D("0.2"): 1000, D("0.1"): 1000},
        ),
        # ... and a band starting in the missing hour starts when the clocks jump
        (
            [Tariff(1, date(2026, 1, 1), D("0.2"), bands=(parse_band("all 02:30-05:00 0.1"),))],
            [(utc(2026, 3, 29, 0), utc(2026, 3, 29, 2), 2000.0)],
            {D("0.2"): 1000, D("0.1"): 1000},
        ),
        # fall back, 2026-10-25: 01:00 CEST to 04:00 CET is four real hours
        (
            [Tariff(1, date(2026, 1, 1), D("0.2"), bands=(parse_band("all 03:00-07:00 0.1"),))],
            [(utc(2026, 10, 24, 23), utc(2026, 10, 25, 3), 4000.0)],
            {D("0.2"): 3000, D("0.1"): 1000},
        ),
        # ... and a band over the repeated hour covers both of its passes
        (
            [Tariff(1, date(2026, 1, 1), D("0.2"), bands=(parse_band("all 02:00-03:00 0.1"),))],
            [(utc(2026, 10, 24, 23), utc(2026, 10, 25, 3), 4000.0)],
            {D("0.2"): 2000, D("0.1"): 2000},
        ),
        # the charger's own tariff prices its energy
        ([ALL, GARAGE], [(utc(2026, 1, 15, 10), utc(2026, 1, 15, 11), 500.0)], {D("0.15"): 500}),
        # no tariff yet: tariff 0 at price 0, so the energy is still accounted for
        ([CHANGE], [(utc(2026, 1, 5, 22), utc(2026, 1, 5, 23), 100.0)], {D(0): 100}),
    ],
)
def test_split_cost_table(
    tariffs: list[Tariff], intervals: list, expected: dict[Decimal, float]
) -> None:
    assert by_price(split_cost(tariffs, "garage", intervals, PARIS)) == expected


def test_split_cost_exact_values() -> None:
    parts = split_cost([BASE], "x", HOURLY_21_01, PARIS)
    assert sum((part.cost for part in parts), D(0)) == D("0.461")
    assert {(part.tariff_id, part.band) for part in parts} == {(1, None), (1, NIGHT)}


def test_zero_length_and_backwards_intervals() -> None:
    at = utc(2026, 1, 5, 22)
    assert by_price(split_cost([BASE], "x", [(at, at, 5.0)], PARIS)) == {D("0.0920"): 5.0}
    with pytest.raises(ValueError, match="before it starts"):
        split_cost([BASE], "x", [(at, at - timedelta(seconds=1), 5.0)], PARIS)


@pytest.mark.parametrize(
    ("amount", "shown"),
    [("0.005", "0.01"), ("0.004999", "0.00"), ("0.465", "0.47"), ("-0.005", "-0.01"),
     ("12.3", "12.30")],
)  # fmt: skip
def test_display_rounding(amount: str, shown: str) -> None:
    assert str(display_amount(D(amount))) == shown


# ---- properties ---------------------------------------------------------------------------------

ZONES = ["Europe/Paris", "America/New_York", "Australia/Lord_Howe", "UTC"]
BAND_SETS = [
    (),
    ("mon-fri 22:00-07:00 0.0920",),
    ("all 02:30-03:30 0.05", "sat,sun 12:00-18:00 0.3"),
    ("sun 23:00-01:00 0.01", "wed 00:00-00:00 0.5"),
]
prices = st.decimals(min_value=0, max_value=2, places=4)


@st.composite
def tariff_sets(draw: st.DrawFn) -> list[Tariff]:
    count = draw(st.integers(1, 3))
    return [
        Tariff(
            number + 1,
            date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 330))),
            draw(prices),
            charger=draw(st.sampled_from([None, "garage"])),
            bands=tuple(parse_band(text) for text in draw(st.sampled_from(BAND_SETS))),
        )
        for number in range(count)
    ]


intervals = st.lists(
    st.tuples(
        st.integers(0, 365 * 86400 * 10**6),
        st.integers(0, 30 * 3600 * 10**6),
        st.floats(0, 50000, allow_nan=False, allow_subnormal=False),
    ),
    min_size=1,
    max_size=5,
)


def as_intervals(raw: list[tuple[int, int, float]]) -> list[tuple[datetime, datetime, float]]:
    origin = utc(2026, 1, 1)
    return [
        (origin + timedelta(microseconds=s), origin + timedelta(microseconds=s + d), wh)
        for s, d, wh in raw
    ]


@settings(max_examples=200, deadline=None)
@given(tariff_sets(), intervals, st.sampled_from(ZONES))
def test_parts_conserve_energy_and_cost_exactly(
    tariffs: list[Tariff], raw: list[tuple[int, int, float]], zone: str
) -> None:
    parts = split_cost(tariffs, "garage", as_intervals(raw), ZoneInfo(zone))
    total = sum(wh for _, _, wh in raw)
    assert abs(sum(part.wh for part in parts) - total) <= 1e-9 * max(total, 1e-300)
    for part in parts:
        assert part.cost == EXACT.multiply(EXACT.divide(D(repr(part.wh)), D(1000)), part.price)
    assert len({(p.tariff_id, p.band, p.price) for p in parts}) == len(parts)


@settings(max_examples=100, deadline=None)
@given(tariff_sets(), intervals, st.sampled_from(ZONES), st.floats(0.01, 0.99))
def test_cutting_an_interval_changes_nothing(
    tariffs: list[Tariff], raw: list[tuple[int, int, float]], zone: str, at: float
) -> None:
    """An increment reported in two halves is priced as the whole (the projector's batches
    must not change a cost)."""
    start, end, wh = as_intervals(raw)[0]
    middle = start + (end - start) * at
    if not start < middle < end:
        return
    whole = split_cost(tariffs, "garage", [(start, end, wh)], ZoneInfo(zone))
    share = wh * (middle - start).total_seconds() / (end - start).total_seconds()
    cut = [(start, middle, share), (middle, end, wh - share)]
    halves = split_cost(tariffs, "garage", cut, ZoneInfo(zone))
    before, after = nonzero(whole), nonzero(halves)
    assert before.keys() == after.keys()
    for key, wh in before.items():
        assert after[key] == pytest.approx(wh, rel=1e-9, abs=1e-6)


def nonzero(parts: list[CostPart]) -> dict[tuple[int, Band | None, Decimal], float]:
    return {(p.tariff_id, p.band, p.price): p.wh for p in parts if p.wh}


def test_band_is_frozen() -> None:
    with pytest.raises(AttributeError):
        NIGHT.price = D(1)  # type: ignore[misc]
    assert isinstance(NIGHT, Band)
