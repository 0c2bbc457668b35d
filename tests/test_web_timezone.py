"""Local days and months (issue 4): every bucket is the local date of the session start in
[site] timezone, identically on the page, in the CSV and in the API, across DST changes and at
00:01 on the 1st of a month."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient

from webapp.buckets import day_range, local_month, month_range

ZONES = ["Europe/Paris", "America/Santiago", "Australia/Lord_Howe", "Asia/Kathmandu", "UTC"]
TICK = timedelta(microseconds=1)


@pytest.mark.parametrize("name", ZONES)
def test_days_tile_the_local_calendar(name: str) -> None:
    """Every day of 2026 starts where the previous ended, on its own local date (midnights that
    DST skips included: Santiago jumps from 24:00 to 01:00)."""
    zone = ZoneInfo(name)
    day = date(2026, 1, 1)
    while day.year == 2026:
        start, end = day_range(day, zone)
        assert start.astimezone(zone).date() == day == (end - TICK).astimezone(zone).date()
        assert day_range(day + timedelta(days=1), zone)[0] == end
        day += timedelta(days=1)


@pytest.mark.parametrize("name", ZONES)
def test_months_tile_the_local_calendar(name: str) -> None:
    zone = ZoneInfo(name)
    for month in range(1, 13):
        start, end = month_range(2026, month, zone)
        assert local_month(start, zone) == (2026, month) == local_month(end - TICK, zone)
        assert month == 12 or month_range(2026, month + 1, zone)[0] == end


@pytest.mark.parametrize(
    ("day", "hours"),
    [(date(2026, 3, 29), 23), (date(2026, 10, 25), 25), (date(2026, 6, 1), 24)],
)
def test_dst_days_in_paris(day: date, hours: int) -> None:
    start, end = day_range(day, ZoneInfo("Europe/Paris"))
    assert end - start == timedelta(hours=hours)


def test_april_starts_in_summer_time() -> None:
    assert month_range(2026, 4, ZoneInfo("Europe/Paris")) == (
        datetime(2026, 3, 31, 22, tzinfo=UTC),
        datetime(2026, 4, 30, 22, tzinfo=UTC),
    )


def page_months(html: str) -> dict[int, str]:
    """Session id -> the month section the page shows it in."""
    found = {}
    for section in re.split(r'<section class="month" id="month-', html)[1:]:
        month = section[:7]
        for sid in re.findall(r'id="session-(\d+)"', section):
            found[int(sid)] = month
    return found


def test_page_csv_and_api_bucket_alike(client: FlaskClient) -> None:
    table = list(csv.DictReader(io.StringIO(client.get("/sessions.csv").text)))
    by_csv = {int(r["id"]): r["month"] for r in table}
    assert page_months(client.get("/").text) == by_csv
    counts = {m["month"]: m["count"] for m in client.get("/api/totals").json["months"]}
    assert counts == {m: list(by_csv.values()).count(m) for m in set(by_csv.values())}
    for month in counts:
        listed = client.get(f"/api/sessions?month={month}").json
        assert sorted(s["id"] for s in listed) == sorted(k for k, v in by_csv.items() if v == month)


@pytest.mark.parametrize(
    ("plugged_local", "month", "day"),
    [
        ("2026-01-31 23:58:00", "2026-01", "2026-01-31"),  # the night before
        ("2026-02-01 00:01:00", "2026-02", "2026-02-01"),  # 23:01 UTC the day before
        ("2026-03-30 00:30:00", "2026-03", "2026-03-30"),  # the first summer night, 22:30 UTC
        ("2026-04-01 00:30:00", "2026-04", "2026-04-01"),  # 22:30 UTC on 31 March
    ],
)
def test_edge_sessions(client: FlaskClient, plugged_local: str, month: str, day: str) -> None:
    table = list(csv.DictReader(io.StringIO(client.get("/sessions.csv").text)))
    row = next(r for r in table if r["plugged_local"] == plugged_local)
    assert row["month"] == month
    assert int(row["id"]) in [s["id"] for s in client.get(f"/api/sessions?month={month}").json]
    assert int(row["id"]) in [
        s["id"] for s in client.get(f"/api/sessions?from={day}&to={day}").json
    ]
    assert f'id="session-{row["id"]}"' in client.get(f"/?from={day}&to={day}").text
    daily = client.get(f"/api/totals/daily?to={day}&days=1").json["days"]
    assert daily[0]["day"] == day and daily[0]["energy_kwh"] == float(row["energy_kwh"])
