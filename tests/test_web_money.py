"""The balance and the monthly statements (issue 5), on both backends, against figures worked out
by hand: two tariffs (EUR with a 22:00-07:00 night band for every charger, CHF for one charger),
four sessions (one across the band's 22:00 edge, one across a month boundary), three payments.

    S1 home   1 Jan 21:00-01:00 Paris  7.2 kWh x 0.20 + 21.6 kWh x 0.10 = 3.60 EUR
    S4 zurich 15 Jan 13:00-14:00       7.2 kWh x 0.30 CHF             = 2.16 CHF
    S2 home   31 Jan 23:30-00:30       7.2 kWh x 0.10 (night, January) = 0.72 EUR
    S3 home   10 Feb 13:00-14:00       7.2 kWh x 0.20                  = 1.44 EUR
    due 5.76 EUR and 2.16 CHF; paid 2.00 + 1.50 EUR and 5.00 CHF; balance -2.26 EUR, 2.84 CHF.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient

from journal.storage import Store
from projector.money.parsing import parse_band
from projector.money.store import Payment, add_payment, add_tariff
from projector.money.tariffs import Tariff
from projector.runner import project_pass
from projector.sessions import SessionRow
from tests.charge_script import Script
from tests.test_projection_store import journal
from tests.web_site import ZONE, at, web_config
from webapp import create_app
from webapp.money_queries import Balance, BandLine, Statement, StatementSession
from webapp.statements import CSV_COLUMNS, csv_rows

PARIS = ZoneInfo(ZONE)
HOME = "openevse-home"
ZURICH = "openevse-zurich"
NIGHT = "all 22:00-07:00 0.1000"


def charge_at(script: Script, start: str, minutes: float) -> None:
    """Plug in a minute before `start` (UTC), charge at 7.2 kW from exactly `start`, unplug."""
    script.t = at(start) - 60
    script.plug().wait(55).state(3)  # the state change lands exactly on `start`
    script.t -= 1
    script.charge(minutes).state(2).unplug()


def build(store: Store) -> list[int]:
    """The tariffs, the payments (their ids returned, oldest first) and the projected sessions."""
    night = parse_band("all 22:00-07:00 0.10")
    add_tariff(store, Tariff(0, date(2025, 1, 1), Decimal("0.20"), bands=(night,), note="home"))
    add_tariff(store, Tariff(0, date(2025, 1, 1), Decimal("0.30"), "CHF", ZURICH))
    payments = [
        add_payment(store, Payment(0, date(2026, 1, 5), Decimal("2.00"), note="cash")),
        add_payment(store, Payment(0, date(2026, 2, 20), Decimal("1.50"), note="transfer")),
        add_payment(store, Payment(0, date(2026, 2, 21), Decimal("5.00"), "CHF", "Zürich <b>")),
    ]
    home, zurich = Script(firmware="5.x", charger=HOME), Script(firmware="5.x", charger=ZURICH)
    charge_at(home, "2026-01-01 20:00:00", 240)  # 21:00-01:00 in Paris
    charge_at(zurich, "2026-01-15 12:00:00", 60)
    charge_at(home, "2026-01-31 22:30:00", 60)  # 23:30 on 31 January in Paris: January
    charge_at(home, "2026-02-10 12:00:00", 60)
    journal(store, sorted(home.messages + zurich.messages, key=lambda m: m[0]))
    while project_pass(store, zone=PARIS).entries:
        pass
    return payments


@pytest.fixture
def money(store: Store, db_url: str) -> tuple[FlaskClient, list[int]]:
    payments = build(store)
    return create_app(web_config(db_url), {"TESTING": True}).test_client(), payments


def tenths(value: Decimal) -> str:
    """How the pages show kWh: half up, one decimal."""
    return f"{value.quantize(Decimal('0.1'), ROUND_HALF_UP):,}"


def csv_lines(client: FlaskClient, month: str) -> list[dict[str, str]]:
    response = client.get(f"/statements/{month}.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.text.splitlines()[0] == ",".join(CSV_COLUMNS)
    return list(csv.DictReader(io.StringIO(response.text)))


def section(lines: list[dict[str, str]], name: str) -> list[dict[str, str]]:
    return [line for line in lines if line["section"] == name]


def cells(html: str, row_pattern: str) -> list[dict[str, str]]:
    """Each table row matching `row_pattern`: its data-figure cells, as text without tags."""
    found = []
    for row in re.findall(rf"<tr {row_pattern}.*?</tr>", html, re.S):
        figures = re.findall(r'data-figure="(\w+)">(.*?)</td>', row, re.S)
        found.append({k: re.sub(r"<[^>]+>", "", v).strip() for k, v in figures})
    return found


def money_of(lines: list[dict[str, str]]) -> str:
    """The CSV's cost lines said the way the page says them: '2.16 CHF + 4.32 EUR'."""
    return " + ".join(f"{line['cost']} {line['currency']}" for line in lines if line["currency"])


# ---- the balance -------------------------------------------------------------------------------


def test_balance_json(money: tuple[FlaskClient, list[int]]) -> None:
    client, (cash, transfer, swiss) = money
    response = client.get("/api/balance")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.json == {
        "due": {"CHF": "2.16", "EUR": "5.76"},
        "paid": {"CHF": "5.00", "EUR": "3.50"},
        "balance": {"CHF": "2.84", "EUR": "-2.26"},
        "payments": [
            {
                "id": swiss,
                "paid_on": "2026-02-21",
                "amount": "5.00",
                "currency": "CHF",
                "note": "Zürich <b>",
            },
            {
                "id": transfer,
                "paid_on": "2026-02-20",
                "amount": "1.50",
                "currency": "EUR",
                "note": "transfer",
            },
            {
                "id": cash,
                "paid_on": "2026-01-05",
                "amount": "2.00",
                "currency": "EUR",
                "note": "cash",
            },
        ],
    }


def test_balance_page_shows_the_json_figures(money: tuple[FlaskClient, list[int]]) -> None:
    client, (cash, transfer, swiss) = money
    html = client.get("/balance").text
    api = client.get("/api/balance").json
    lines = dict(
        zip(
            re.findall(r'<tr class="balance-line" data-currency="(\w+)">', html),
            cells(html, 'class="balance-line"'),
            strict=True,
        )
    )
    assert list(lines) == ["CHF", "EUR"]  # one line per currency, never a mixed sum
    for currency, figures in lines.items():
        assert figures["due"] == api["due"][currency]
        assert figures["paid"] == api["paid"][currency]
        assert figures["balance"].split()[0] == api["balance"][currency]
    assert lines["EUR"]["balance"] == "-2.26 owed" and lines["CHF"]["balance"] == "2.84"
    assert re.findall(r'<tr id="payment-(\d+)">', html) == [str(swiss), str(transfer), str(cash)]
    assert "Zürich &lt;b&gt;" in html and "Zürich <b>" not in html  # autoescaped
    assert 'href="/statements"' in html


def test_mixed_currencies_are_never_added(money: tuple[FlaskClient, list[int]]) -> None:
    client, _ = money
    balance = client.get("/balance").text + client.get("/api/balance").text
    for mixed in ("7.92", "8.50", "6.34"):  # due, paid, balance with CHF and EUR added
        assert mixed not in balance
    january = csv_lines(client, "2026-01")
    totals = section(january, "total")
    assert [(t["energy_kwh"] != "", t["cost"], t["currency"]) for t in totals] == [
        (True, "2.16", "CHF"),
        (False, "4.32", "EUR"),
    ]
    shown = re.search(r'data-total="cost">([^<]*)<', client.get("/statements/2026-01").text)
    assert shown is not None and shown[1] == "2.16 CHF + 4.32 EUR"
    index = client.get("/statements").text
    assert "2.16 CHF + 4.32 EUR" in index and "1.44 EUR" in index


def test_empty_install_balance_and_statements(fresh_app: Flask) -> None:
    client = fresh_app.test_client()
    assert client.get("/api/balance").json == {"due": {}, "paid": {}, "balance": {}, "payments": []}
    assert 'id="balance-empty"' in client.get("/balance").text
    assert 'id="statements-empty"' in client.get("/statements").text


# ---- the statement -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("month", "first", "last"),
    [("2026-01", "2026-01-01", "2026-01-31"), ("2026-02", "2026-02-01", "2026-02-28")],
)
def test_statement_totals_are_the_sessions_pages(
    money: tuple[FlaskClient, list[int]], month: str, first: str, last: str
) -> None:
    client, _ = money
    lines = csv_lines(client, month)
    sessions = client.get(f"/api/sessions?from={first}&to={last}").json
    (monthly,) = client.get(f"/api/totals/monthly?month={month}").json["months"]
    listed = section(lines, "session")
    assert [int(s["session_id"]) for s in listed] == [s["id"] for s in sessions]
    assert len(sessions) == monthly["count"] == {"2026-01": 3, "2026-02": 1}[month]
    kwh = Decimal(section(lines, "total")[0]["energy_kwh"])
    assert kwh == sum((Decimal(repr(s["energy_wh"])) for s in sessions), Decimal(0)) / 1000
    assert kwh == Decimal(repr(monthly["energy_wh"])) / 1000
    assert tenths(kwh) == {"2026-01": "43.2", "2026-02": "7.2"}[month]
    costs = {t["currency"]: t["cost"] for t in section(lines, "total")}
    assert costs == monthly["costs"]
    assert costs == {"2026-01": {"CHF": "2.16", "EUR": "4.32"}, "2026-02": {"EUR": "1.44"}}[month]
    for line, api in zip(listed, sessions, strict=True):
        assert {line["currency"]: line["cost"]} == api["costs"]
    page = client.get(f"/statements/{month}").text
    assert re.search(r'data-total="kwh">([^<]*) kWh<', page)[1] == tenths(kwh)  # type: ignore[index]
    assert re.search(r'data-total="count">(\d+)<', page)[1] == str(monthly["count"])  # type: ignore[index]


def test_statement_splits_energy_at_the_band_edge(money: tuple[FlaskClient, list[int]]) -> None:
    """S1 (21:00-01:00) is 7.2 kWh at the base price and 21.6 in the 22:00 night band; S2 adds
    7.2 night kWh; the CHF charger's own tariff is a line of its own."""
    client, _ = money
    bands = [
        (b["tariff_id"], b["band"], b["price"], tenths(Decimal(b["energy_kwh"])), b["cost"])
        for b in section(csv_lines(client, "2026-01"), "band")
    ]
    home, zurich = bands[0][0], bands[2][0]
    assert home != zurich
    assert bands == [
        (home, "", "0.2000", "7.2", "1.44"),
        (home, NIGHT, "0.1000", "28.8", "2.88"),
        (zurich, "", "0.3000", "7.2", "2.16"),
    ]
    html = client.get("/statements/2026-01").text
    assert re.findall(r'<tr class="band-line" data-tariff="(\d+)" data-band="([^"]*)">', html) == [
        (home, ""),
        (home, NIGHT),
        (zurich, ""),
    ]
    assert "<td>all 22:00-07:00</td>" in html and "0.1000 EUR" in html
    february = section(csv_lines(client, "2026-02"), "band")
    assert [(b["band"], tenths(Decimal(b["energy_kwh"])), b["cost"]) for b in february] == [
        ("", "7.2", "1.44")
    ]


@pytest.mark.parametrize("month", ["2026-01", "2026-02"])
def test_csv_carries_the_html_figures(money: tuple[FlaskClient, list[int]], month: str) -> None:
    client, _ = money
    lines = csv_lines(client, month)
    html = client.get(f"/statements/{month}").text
    shown = cells(html, r'id="session-\d+"')
    listed = section(lines, "session")
    assert re.findall(r'<tr id="session-(\d+)">', html) == [s["session_id"] for s in listed]
    for row, line in zip(shown, listed, strict=True):
        assert row["kwh"] == tenths(Decimal(line["energy_kwh"]))
        assert row["cost"] == money_of([line])
        assert Decimal(line["cost_exact"]).quantize(Decimal("0.01"), ROUND_HALF_UP) == Decimal(
            line["cost"]
        )
    bands = section(lines, "band")
    for row, line in zip(cells(html, 'class="band-line"'), bands, strict=True):
        assert row["kwh"] == tenths(Decimal(line["energy_kwh"]))
        assert row["cost"] == money_of([line])
    assert len(cells(html, 'class="band-line"')) == len(bands) > 0
    total = section(lines, "total")
    assert f'data-total="cost">{money_of(total)}<' in html
    assert f'data-total="kwh">{tenths(Decimal(total[0]["energy_kwh"]))} kWh<' in html
    # the session lines add up to the total, energy exactly
    assert sum((Decimal(s["energy_kwh"]) for s in listed if s["energy_kwh"]), Decimal(0)) == (
        Decimal(total[0]["energy_kwh"])
    )
    assert {line["month"] for line in lines} == {month}
    disposition = client.get(f"/statements/{month}.csv").headers["Content-Disposition"]
    assert disposition == f'attachment; filename="chargelog-statement-{month}.csv"'


def test_a_session_is_listed_with_its_local_times(money: tuple[FlaskClient, list[int]]) -> None:
    client, _ = money
    first = section(csv_lines(client, "2026-01"), "session")[0]
    assert (first["plugged_local"], first["unplugged_local"][:16], first["charger"]) == (
        "2026-01-01 20:59:00",
        "2026-01-02 01:00",
        HOME,
    )
    assert (tenths(Decimal(first["energy_kwh"])), first["cost"], first["currency"]) == (
        "28.8",
        "3.60",
        "EUR",
    )
    html = client.get("/statements/2026-01").text
    assert "<td>2026-01-01 20:59</td>" in html and "<td>2026-01-02 01:00</td>" in html


@pytest.mark.parametrize("bad", ["2026-13", "2026-00", "2026-1", "26-01", "janvier"])
def test_a_bad_month_is_a_404_that_says_why(money: tuple[FlaskClient, list[int]], bad: str) -> None:
    client, _ = money
    page = client.get(f"/statements/{bad}")
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "/statements/YYYY-MM" in page.text and repr(bad) in page.text.replace("&#39;", "'")
    text = client.get(f"/statements/{bad}.csv")
    assert text.status_code == 404 and text.mimetype == "text/plain"
    assert text.text.startswith("404 Not Found: There is no statement")


def test_a_month_without_sessions(money: tuple[FlaskClient, list[int]]) -> None:
    client, _ = money
    page = client.get("/statements/2025-12")
    assert page.status_code == 200 and "No session was plugged in this month" in page.text
    assert 'href="/statements/2026-01" rel="next"' in page.text
    lines = csv_lines(client, "2025-12")
    assert [(line["section"], line["energy_kwh"], line["cost"]) for line in lines] == [
        ("total", "0", "")
    ]


def test_statements_index_links_every_month(money: tuple[FlaskClient, list[int]]) -> None:
    client, _ = money
    html = client.get("/statements").text
    assert re.findall(r'<tr id="month-([\d-]+)">', html) == ["2026-02", "2026-01"]
    for month in ("2026-01", "2026-02"):
        assert f'href="/statements/{month}"' in html and f'href="/statements/{month}.csv"' in html
    nav = html[html.index('<nav aria-label="Main">') : html.index("</nav>")]
    assert 'href="/balance">Balance<' in nav and 'href="/statements">Statements<' in nav


def test_the_statement_prints_without_navigation(money: tuple[FlaskClient, list[int]]) -> None:
    client, _ = money
    html = client.get("/statements/2026-01").text
    assert '<link rel="stylesheet" href="/static/print.css" media="print">' in html
    links = re.search(r'<nav class="no-print statement-links".*?</nav>', html, re.S)
    assert links is not None and "2026-01.csv" in links[0]
    with client.get("/static/print.css") as css:
        assert css.status_code == 200 and css.mimetype == "text/css"
        text = css.text
    hidden = re.search(r"\n([^{}\n]*)\{\s*display:\s*none", text)
    assert hidden is not None
    selectors = [name.strip() for name in hidden[1].split(",")]
    for selector in ("header.site", "footer.site", "nav", ".no-print", "button"):
        assert selector in selectors


# ---- the rules, without a database -------------------------------------------------------------


def test_balance_is_the_exact_difference_rounded_once() -> None:
    """Due 2.004 EUR and 1.005 CHF, paid 2.00 EUR: the balance is -0.004 EUR (shown 0.00, never
    -0.00) and -1.005 CHF (shown -1.01: halves away from zero, on the exact difference)."""
    due = {"EUR": Decimal("2.004"), "CHF": Decimal("1.005")}
    figures = Balance(due, {"EUR": Decimal("2.00")}, []).as_json()
    assert figures["due"] == {"CHF": "1.01", "EUR": "2.00"}
    assert figures["balance"] == {"CHF": "-1.01", "EUR": "0.00"}
    assert Balance(due, {"EUR": Decimal("2.00")}, []).lines() == [
        ("CHF", "1.01", "0.00", "-1.01"),
        ("EUR", "2.00", "2.00", "0.00"),
    ]


def test_csv_lines_of_a_session_in_two_currencies() -> None:
    """A session priced in two currencies: one line per currency, its energy on the first only;
    unpriced energy is a band line with tariff 0 and no cost."""
    plugged = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    session = SessionRow(7, HOME, plugged, None, 1234.567, 60, 1, {})
    costs = {"EUR": Decimal("1.005"), "CHF": Decimal("0.5")}
    bands = [
        BandLine(1, "", Decimal("0.2000"), "EUR", 1000.0, Decimal("1.005")),
        BandLine(0, "", Decimal(0), "", 234.567, None),
    ]
    statement = Statement(2026, 3, [StatementSession(session, costs)], bands, {}, [])
    lines = [
        dict(zip(CSV_COLUMNS, map(str, line), strict=True)) for line in csv_rows(statement, PARIS)
    ]
    picked = [
        (x["section"], x["energy_kwh"], x["cost"], x["cost_exact"], x["currency"]) for x in lines
    ]
    assert picked == [
        ("session", "1.234567", "0.50", "0.50", "CHF"),
        ("session", "", "1.01", "1.005", "EUR"),
        ("band", "1.0", "1.01", "1.005", "EUR"),
        ("band", "0.234567", "", "", ""),
        ("total", "1.234567", "0.50", "0.50", "CHF"),
        ("total", "", "1.01", "1.005", "EUR"),
    ]
    assert lines[0]["plugged_local"] == "2026-03-01 10:00:00" and lines[0]["unplugged_local"] == ""
    assert lines[3]["tariff_id"] == "0" and lines[3]["price"] == ""
