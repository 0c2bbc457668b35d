"""The books against the meter on the page (issue 12): the health page's table, a line under a
month whose books do not close, /api/totals/monthly, and the statement (HTML and CSV)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

from flask.testing import FlaskClient

from journal import entries
from journal.entries import micros_text
from journal.storage import Store
from projector.runner import project_pass
from tests.charge_script import Script
from tests.web_site import web_config
from webapp import create_app

JSON = {"Accept": "application/json"}
CLOSED, OPEN = "openevse-good", "openevse-odd"


def _site(store: Store, db_url: str) -> FlaskClient:
    """Two 5.x chargers in March of this year: one whose meter agrees with its session, one
    whose meter rose 500 Wh while idle with nothing to explain it."""
    start = datetime(datetime.now(UTC).year, 3, 10, 9, tzinfo=UTC).timestamp()
    good = Script(firmware="5.x", charger=CLOSED, t=start)
    good.idle(1, 1).plug().state(3).charge(30).state(2).unplug().idle(2, 1)
    odd = Script(firmware="5.x", charger=OPEN, t=start + 3.0)
    odd.idle(1, 1).plug().state(3).charge(15).state(2).unplug().idle(2, 1)
    odd.lifetime += 500.0
    odd.idle(2, 1)
    everything = sorted(good.messages + odd.messages, key=lambda m: m[0])
    rows = [(micros_text(round(t * 1e6)), topic, p, 0, int(r)) for t, topic, p, r in everything]
    entries.append(store, rows)
    store.commit()
    project_pass(store)
    return create_app(web_config(db_url), {"TESTING": True}).test_client()


def _month() -> str:
    return f"{datetime.now(UTC).year:04d}-03"


def test_the_health_page_shows_each_months_books(store: Store, db_url: str) -> None:
    client = _site(store, db_url)
    books = {b["charger"]: b for b in client.get("/health", headers=JSON).json["books"]}
    assert set(books) == {CLOSED, OPEN}
    good, odd = books[CLOSED], books[OPEN]
    assert good["month"] == odd["month"] == _month()
    assert good["closes"] and abs(good["remainder_wh"]) < 1
    assert good["meter_wh"] == good["sessions_wh"] == 3600.0
    assert not odd["closes"] and odd["remainder_wh"] == 500.0
    assert odd["meter_wh"] == 2300.0 and odd["sessions_wh"] == 1800.0
    page = client.get("/health").text
    table = page[page.index('id="health-books"') :]
    table = table[: table.index("</table>")]
    assert table.count("do not close") == 1 and "+0.500" in table


def test_a_month_whose_books_do_not_close_says_so(store: Store, db_url: str) -> None:
    client = _site(store, db_url)
    page = client.get("/").text
    lines = [line for line in page.splitlines() if "books-open" in line]
    assert len(lines) == 1 and OPEN in lines[0] and "+0.500 kWh unexplained" in lines[0]
    assert CLOSED not in lines[0]
    monthly = client.get(f"/api/totals/monthly?to={_month()}-31&months=1").json["months"]
    (march,) = monthly
    books = {b["charger"]: b for b in march["books"]}
    assert books[CLOSED]["closes"] and not books[OPEN]["closes"]
    only = client.get(f"/api/totals/monthly?to={_month()}-31&months=1&charger={CLOSED}").json
    assert [b["charger"] for b in only["months"][0]["books"]] == [CLOSED]


def test_the_statement_carries_the_meter_and_the_books(store: Store, db_url: str) -> None:
    client = _site(store, db_url)
    text = client.get(f"/statements/{_month()}.csv").text
    rows = list(csv.DictReader(io.StringIO(text)))
    sessions = {r["charger"]: r for r in rows if r["section"] == "session"}
    assert Decimal(sessions[CLOSED]["meter_start_kwh"]) == Decimal("100")
    assert Decimal(sessions[CLOSED]["meter_end_kwh"]) == Decimal("103.6")
    books = {r["charger"]: r for r in rows if r["section"] == "books"}
    assert Decimal(books[OPEN]["remainder_kwh"]) == Decimal("0.5")
    assert Decimal(books[OPEN]["meter_kwh"]) == Decimal("2.3")
    assert Decimal(books[CLOSED]["energy_kwh"]) == Decimal("3.6")
    assert Decimal(books[CLOSED]["remainder_kwh"]) == 0
    assert all(len(r) == len(rows[0]) for r in rows)
    page = client.get(f"/statements/{_month()}").text
    assert page.count("the books do not close") == 1 and 'class="num meter-start">100.000' in page


def test_a_sessions_json_and_page_show_its_meter(store: Store, db_url: str) -> None:
    client = _site(store, db_url)
    sessions = {s["charger"]: s for s in client.get("/api/sessions").json}
    good = sessions[CLOSED]
    assert (good["meter_start_wh"], good["meter_end_wh"], good["meter_wh"]) == (
        100_000.0,
        103_600.0,
        3600.0,
    )
    assert good["meter_wh"] == good["energy_wh"] and "meter_mismatch" not in good["flags"]
    page = client.get(f"/sessions/{good['id']}").text
    assert "100.000 → 103.600 kWh (+3.600)" in page
