"""Exports (issue 4): /api/sessions is exactly `chargelog sessions --format json`; /sessions.csv
adds up to the page's totals to the last digit shown; the chart endpoints bucket by local day and
month within the same filters."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from chargelog.cli import main
from journal.storage import Store
from projector.records import Plugin
from projector.runner import LIVE
from projector.session_formats import CSV_COLUMNS
from projector.tables import upsert
from tests.web_site import LEGACY, MODERN, ZONE, at, shown_totals, web_config
from webapp import create_app

FILTERS = [
    "",
    f"charger={MODERN}",
    "from=2026-01-15&to=2026-03-31",
    "month=2026-01",
    "charger=nope",
]


def rows(client: FlaskClient, query: str = "") -> list[dict[str, str]]:
    response = client.get(f"/sessions.csv?{query}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.text)))


def tenths(value: Decimal) -> str:
    """How the page rounds: half up, one decimal, thousands separators."""
    return f"{value.quantize(Decimal('0.1'), ROUND_HALF_UP):,}"


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--charger", LEGACY],
        ["--from", "2026-01-31", "--to", "2026-02-01"],
        ["--charger", "nope"],
    ],
)
def test_api_is_the_cli_json(
    client: FlaskClient,
    site_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
) -> None:
    config = tmp_path / "c.ini"
    config.write_text(f"[database]\nurl = {site_url}\n[site]\ntimezone = {ZONE}\n")
    monkeypatch.chdir(tmp_path)
    assert main(["--config", str(config), "sessions", "--format", "json", *args]) == 0
    query = "&".join(f"{a[2:]}={b}" for a, b in zip(args[::2], args[1::2], strict=True))
    response = client.get(f"/api/sessions?{query}")
    assert response.mimetype == "application/json"
    assert response.text == capsys.readouterr().out


def test_csv_columns_and_values(client: FlaskClient) -> None:
    response = client.get("/sessions.csv")
    assert response.text.splitlines()[0] == ",".join(CSV_COLUMNS)
    assert (
        response.headers["Content-Disposition"] == 'attachment; filename="chargelog-sessions.csv"'
    )
    first = rows(client)[0]
    assert first["charger"] == MODERN and first["month"] == "2026-01"
    assert first["plugged_local"] == "2026-01-01 11:01:00"  # 10:01 UTC in Paris
    assert first["plugged_at"] == "2026-01-01T10:01:00Z"
    assert (first["energy_kwh"], first["charging_s"], first["cycles"]) == ("5.4", "2702", "2")
    assert first["cost"] == "" and first["plugged_s"] == "3009"
    live = rows(client)[-1]
    assert live["unplugged_at"] == "" and live["plugged_s"] == ""


def test_csv_energy_is_exact(client: FlaskClient) -> None:
    """Stored energy (Wh to three decimals) in kWh, not rounded: the column sums to the totals."""
    by_id = {s["id"]: s["energy_wh"] for s in client.get("/api/sessions").json}
    for row in rows(client):
        assert Decimal(row["energy_kwh"]) * 1000 == Decimal(repr(by_id[int(row["id"])]))
    assert "0.12" in [r["energy_kwh"] for r in rows(client)]


def test_csv_month_is_a_stable_url(client: FlaskClient) -> None:
    response = client.get("/sessions.csv?month=2026-02")
    assert 'filename="chargelog-sessions-2026-02.csv"' in response.headers["Content-Disposition"]
    assert [r["plugged_local"] for r in rows(client, "month=2026-02")] == ["2026-02-01 00:01:00"]


@pytest.mark.parametrize("query", FILTERS)
def test_page_csv_and_api_totals_agree(client: FlaskClient, query: str) -> None:
    table = rows(client, query)
    sessions = client.get(f"/api/sessions?{query}").json
    total = client.get(f"/api/totals?{query}").json["total"]
    page = shown_totals(client.get(f"/?{query}").text, 'id="total-all"')
    csv_kwh = sum((Decimal(r["energy_kwh"]) for r in table), Decimal(0))
    api_kwh = sum((Decimal(repr(s["energy_wh"])) for s in sessions), Decimal(0)) / 1000
    assert page["kwh"] == tenths(csv_kwh) == tenths(api_kwh)
    assert csv_kwh == api_kwh == Decimal(repr(total["energy_wh"])) / 1000  # every digit
    assert page["count"] == str(len(table)) == str(len(sessions)) == str(total["count"])
    hours = Decimal(sum(int(r["charging_s"]) for r in table)) / 3600
    assert page["hours"] == tenths(hours) == tenths(Decimal(total["charging_s"]) / 3600)


def test_month_totals_agree(client: FlaskClient) -> None:
    by_month: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows(client):
        by_month[row["month"]].append(row)
    api = {m["month"]: m for m in client.get("/api/totals").json["months"]}
    page = client.get("/").text
    assert sorted(api) == sorted(by_month) == ["2026-01", "2026-02", "2026-03", "2026-04"]
    for month, members in by_month.items():
        kwh = sum((Decimal(r["energy_kwh"]) for r in members), Decimal(0))
        shown = shown_totals(page, f'id="month-title-{month}"', "</h3>")
        assert shown["count"] == str(len(members)) == str(api[month]["count"])
        assert shown["kwh"] == tenths(kwh) == tenths(Decimal(api[month]["energy_wh"]) / 1000)


def kwh_by(rows_: list[dict[str, Any]], key: str) -> dict[str, float]:
    return {r[key]: r["energy_kwh"] for r in rows_ if r["count"]}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("to=2026-03-31&days=3", {"2026-03-30": 0.6}),
        ("to=2026-02-01&days=2", {"2026-01-31": 0.12, "2026-02-01": 1.2}),
        (f"to=2026-02-01&days=2&charger={MODERN}", {"2026-02-01": 1.2}),
        ("from=2026-04-10&to=2026-04-30", {"2026-04-10": 36.0, "2026-04-20": 0.6}),
    ],
)
def test_daily_totals(client: FlaskClient, query: str, expected: dict[str, float]) -> None:
    data = client.get(f"/api/totals/daily?{query}").json
    assert kwh_by(data["days"], "day") == expected
    assert data["zone"] == ZONE


def test_daily_totals_span(client: FlaskClient) -> None:
    days = client.get("/api/totals/daily?to=2026-03-31&days=3").json["days"]
    assert [d["day"] for d in days] == ["2026-03-29", "2026-03-30", "2026-03-31"]
    assert len(client.get("/api/totals/daily").json["days"]) == 60  # ends today
    assert len(client.get("/api/totals/daily?month=2026-02").json["days"]) == 28


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "to=2026-04-30&months=4",
            {"2026-01": 12.72, "2026-02": 1.2, "2026-03": 0.6, "2026-04": 39.0},
        ),
        (f"to=2026-04-30&charger={LEGACY}", {"2026-01": 7.2}),
        ("from=2026-02-01&to=2026-03-31", {"2026-02": 1.2, "2026-03": 0.6}),
        ("month=2026-04", {"2026-04": 39.0}),
    ],
)
def test_monthly_totals(client: FlaskClient, query: str, expected: dict[str, float]) -> None:
    months = client.get(f"/api/totals/monthly?{query}").json["months"]
    assert kwh_by(months, "month") == expected
    assert len(client.get("/api/totals/monthly").json["months"]) == 24


def test_totals_agree_when_rounding_each_session_would_not(store: Store, db_url: str) -> None:
    """200 sessions of 1000.3 Wh: 200.06 kWh, shown 200.1. Rounding each session first (to the
    Wh, or the CSV to 0.001 kWh) would make 200.0: the page, the CSV and the API must not."""
    start = round(at("2026-05-01 08:00:00") * 1_000_000)
    plugins = [
        Plugin(
            id=n + 1,
            charger=MODERN,
            plugged_at=start + n * 3_600_000_000,
            last_connected_at=start + n * 3_600_000_000 + 600_000_000,
            unplugged_at=start + n * 3_600_000_000 + 600_000_000,
            energy_wh=1000.3,
            charging_us=300_000_000,
            cycle_count=1,
        )
        for n in range(200)
    ]
    upsert(store, LIVE, [], plugins, {})
    store.commit()
    client = create_app(web_config(db_url), {"TESTING": True}).test_client()
    assert shown_totals(client.get("/").text, 'id="total-all"')["kwh"] == "200.1"
    assert tenths(sum((Decimal(r["energy_kwh"]) for r in rows(client)), Decimal(0))) == "200.1"
    api = client.get("/api/sessions").json
    assert tenths(sum((Decimal(repr(s["energy_wh"])) for s in api), Decimal(0)) / 1000) == "200.1"
    assert client.get("/api/totals").json["total"]["energy_kwh"] == 200.06
