"""Costs everywhere sessions are shown (issue 5): the page (rows, cycles, totals), the detail page
and its split per tariff and band, /sessions.csv, /api/sessions, /api/totals*, and `chargelog
sessions` all show the same amounts. Each is the exact Decimal sum rounded once, half up; mixed
currencies are never added; energy no tariff covered shows no cost, not 0.00."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from chargelog.cli import main
from journal.storage import Store
from projector.money.store import add_tariff
from projector.money.tariffs import Tariff
from projector.records import Cycle, Plugin
from projector.runner import LIVE, project_pass
from projector.tables import upsert
from tests.charge_script import Script
from tests.test_projection_store import journal
from tests.web_site import LEGACY, MODERN, ZONE, at, shown_totals, web_config
from webapp import create_app

US = 1_000_000
BAND = "mon-fri 22:00-07:00 0.1000"

# Every cost part is "tariff|band|price|currency" -> [Wh, exact cost], as the projector writes.
# A and B each cost 1.005 EUR (shown 1.01, half up); together 2.010, shown 2.01 (rounding each
# session first would make 2.02). C's energy fell under no tariff; F never charged. D is priced by
# the configuration's [tariff] in CHF; E mixes EUR and CHF in one session.
SITE: list[tuple[int, str, str, list[dict[str, list[Any]]]]] = [
    (100, MODERN, "2026-05-03 08:00:00", [{"1||0.2500|EUR": [2010.0, "0.5025"]}] * 2),
    (
        200,
        MODERN,
        "2026-05-20 18:00:00",
        [{"1||0.2500|EUR": [3010.0, "0.7525"], f"1|{BAND}|0.1000|EUR": [2525.0, "0.2525"]}],
    ),
    (300, MODERN, "2026-05-25 09:00:00", [{"0||0|": [5000.0, "0"]}]),
    (400, LEGACY, "2026-06-02 07:00:00", [{"-1||0.3100|CHF": [10000.0, "3.1"]}]),
    (
        500,
        LEGACY,
        "2026-06-10 07:00:00",
        [{"1||0.2500|EUR": [5000.0, "1.25"]}, {"-1||0.3100|CHF": [1290.32, "0.40"]}],
    ),
    (600, MODERN, "2026-05-26 10:00:00", []),
]
FILTERS = [
    ("", {"CHF": "3.50", "EUR": "3.26"}),
    (f"charger={MODERN}", {"EUR": "2.01"}),
    ("month=2026-05", {"EUR": "2.01"}),
    ("month=2026-06", {"CHF": "3.50", "EUR": "1.25"}),
    ("from=2026-05-25&to=2026-05-31", {}),
    ("charger=nope", {}),
]


def cents(amount: Decimal) -> str:
    """The documented rule, written out here: to cents, halves up."""
    return str(amount.quantize(Decimal("0.01"), ROUND_HALF_UP))


def shown(amounts: dict[str, str]) -> str:
    """How a page shows rounded amounts: "3.50 CHF + 3.26 EUR", currencies in order."""
    return " + ".join(f"{amounts[c]} {c}" for c in sorted(amounts))


def build(store: Store) -> None:
    """The sessions of SITE, written through the projector's own upsert."""
    plugins, cycles = [], []
    for sid, charger, plugged, parts in SITE:
        start = round(at(plugged) * US)
        for n, costs in enumerate(parts):
            wh = sum(w for w, _ in costs.values())
            begin = start + (n * 2 + 1) * 600 * US
            cycles.append(
                Cycle(
                    id=sid + 1 + n,
                    charger=charger,
                    plugin_id=sid,
                    started_at=begin,
                    last_charging_at=begin + 600 * US,
                    ended_at=begin + 600 * US,
                    end_reason="stopped",
                    energy_wh=wh,
                    costs={key: list(value) for key, value in costs.items()},
                )
            )
        end = start + (len(parts) * 2 + 1) * 600 * US
        plugins.append(
            Plugin(
                id=sid,
                charger=charger,
                plugged_at=start,
                last_connected_at=end,
                unplugged_at=end,
                energy_wh=sum(c.energy_wh for c in cycles if c.plugin_id == sid),
                charging_us=len(parts) * 600 * US,
                cycle_count=len(parts),
            )
        )
    upsert(store, LIVE, cycles, plugins, {})
    store.commit()


@pytest.fixture
def client(store: Store, db_url: str) -> FlaskClient:
    build(store)
    return create_app(web_config(db_url), {"TESTING": True}).test_client()


def csv_rows(client: FlaskClient, query: str = "") -> list[dict[str, str]]:
    response = client.get(f"/sessions.csv?{query}")
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.text)))


def csv_amounts(row: dict[str, str]) -> dict[str, Decimal]:
    """A CSV row's exact cost per currency ("" = none; mixed: "0.40 CHF + 1.25 EUR")."""
    if not row["cost_exact"]:
        return {}
    if row["currency"]:
        return {row["currency"]: Decimal(row["cost_exact"])}
    return {c: Decimal(a) for a, c in re.findall(r"([\d.]+) ([A-Z]{3})", row["cost_exact"])}


def add_up(amounts: list[dict[str, Decimal]]) -> dict[str, Decimal]:
    total: dict[str, Decimal] = {}
    for one in amounts:
        for currency, value in one.items():
            total[currency] = total.get(currency, Decimal(0)) + value
    return total


def session_part(page: str, sid: int) -> str:
    part = page[page.index(f'id="session-{sid}"') :]
    return part[: part.index("</details>")]


@pytest.mark.parametrize(("query", "expected"), FILTERS)
def test_page_csv_api_and_totals_agree(
    client: FlaskClient, query: str, expected: dict[str, str]
) -> None:
    """The same filter gives the same cost on the page, in the CSV's column, in /api/sessions
    and in /api/totals: the exact sum, rounded once."""
    by_csv = add_up([csv_amounts(r) for r in csv_rows(client, query)])
    sessions = client.get(f"/api/sessions?{query}").json
    by_api = add_up(
        [{c: Decimal(a) for c, a in s["costs_exact"].items()} for s in sessions]  # exact
    )
    assert by_csv == by_api  # to the last digit, not only once rounded
    assert {c: cents(a) for c, a in by_csv.items()} == expected
    total = client.get(f"/api/totals?{query}").json["total"]
    assert total["costs"] == expected
    if len(expected) == 1:
        ((currency, amount),) = expected.items()
        assert (total["cost"], total["currency"]) == (amount, currency)
    else:
        assert total["cost"] is None and total["currency"] is None
    page = shown_totals(client.get(f"/?{query}").text, 'id="total-all"')
    assert page["cost"] == (shown(expected) or "\N{EN DASH}")
    assert page["count"] == str(len(sessions)) == str(total["count"])


def test_each_amount_is_rounded_once_half_up(client: FlaskClient) -> None:
    """1.005 shows 1.01 (half up, not half even); two of them total 2.010 and show 2.01, not
    the 2.02 of adding the rounded lines; the cycles show 0.5025 as 0.50."""
    sessions = {s["id"]: s for s in client.get("/api/sessions").json}
    a, b = sessions[100], sessions[200]
    assert (a["cost"], a["currency"], a["costs"]) == ("1.01", "EUR", {"EUR": "1.01"})
    assert a["costs_exact"] == {"EUR": "1.005"} and b["cost"] == "1.01"
    assert [c["cost"] for c in a["cycles"]] == ["0.50", "0.50"]
    page = client.get(f"/?charger={MODERN}").text
    assert shown_totals(page, 'id="total-all"')["cost"] == "2.01 EUR"
    for sid in (100, 200):
        assert '<span data-label="Cost" class="num cost">1.01 EUR</span>' in session_part(page, sid)
    assert session_part(page, 100).count('<td class="num cost">0.50 EUR</td>') == 2
    month = shown_totals(page, 'id="month-title-2026-05"', "</h3>")
    assert month["cost"] == "2.01 EUR"
    assert shown_totals(page, 'id="year-2026"', "</h2>")["cost"] == "2.01 EUR"
    row = {r["id"]: r for r in csv_rows(client, f"charger={MODERN}")}["100"]
    assert (row["cost"], row["cost_exact"], row["currency"]) == ("1.01", "1.005", "EUR")


def test_mixed_currencies_are_never_added(client: FlaskClient) -> None:
    mixed = {s["id"]: s for s in client.get("/api/sessions").json}[500]
    assert mixed["cost"] is None and mixed["currency"] is None
    assert mixed["costs"] == {"CHF": "0.40", "EUR": "1.25"}
    assert [(c["cost"], c["currency"]) for c in mixed["cycles"]] == [
        ("1.25", "EUR"),
        ("0.40", "CHF"),
    ]
    page = client.get("/").text
    assert ">0.40 CHF + 1.25 EUR</span>" in session_part(page, 500)
    assert shown_totals(page, 'id="total-all"')["cost"] == "3.50 CHF + 3.26 EUR"
    row = {r["id"]: r for r in csv_rows(client)}["500"]
    assert (row["cost"], row["cost_exact"], row["currency"]) == ("0.40 CHF + 1.25 EUR",) * 2 + ("",)
    months = {m["month"]: m for m in client.get("/api/totals").json["months"]}
    assert months["2026-06"]["cost"] is None
    assert months["2026-06"]["costs"] == {"CHF": "3.50", "EUR": "1.25"}


def test_unpriced_sessions_show_no_cost(client: FlaskClient) -> None:
    sessions = {s["id"]: s for s in client.get("/api/sessions").json}
    for sid in (300, 600):  # energy under no tariff; never charged
        s = sessions[sid]
        assert (s["cost"], s["currency"], s["costs"], s["costs_exact"]) == (None, None, {}, {})
    assert sessions[300]["cycles"][0]["cost"] is None
    rows = {r["id"]: r for r in csv_rows(client)}
    assert (rows["300"]["cost"], rows["300"]["cost_exact"], rows["300"]["currency"]) == ("",) * 3
    page = client.get("/").text
    assert '<span data-label="Cost" class="num cost"></span>' in session_part(page, 300)
    assert "0.00" not in session_part(page, 300)
    detail = client.get("/sessions/300").text
    assert re.search(r'id="session-cost"[^>]*>\N{EN DASH}<', detail)
    split = detail[
        detail.index('id="cost-split"') : detail.index("</table>", detail.index("cost-split"))
    ]
    assert ">none</abbr>" in split and "no tariff in force" in split and "5.0" in split
    assert "EUR" not in split and "0.00" not in split


def test_detail_shows_the_session_its_cycles_and_the_split(client: FlaskClient) -> None:
    page = client.get("/sessions/200").text
    assert re.search(r'id="session-cost"[^>]*>1.01 EUR<', page)
    split = page[page.index('id="cost-split"') :]
    split = split[: split.index("</table>")]
    lines = re.findall(
        r"<abbr[^>]*>([^<]*)</abbr></td>\s*<td>([^<]*)</td>\s*<td class=\"num\">([^<]*)</td>"
        r"\s*<td class=\"num\">([^<]*)</td>\s*<td class=\"num cost\">([^<]*)</td>",
        split,
    )
    assert lines == [
        ("#1", "base price", "0.2500 EUR/kWh", "3.0", "0.75 EUR"),
        ("#1", "mon-fri 22:00-07:00", "0.1000 EUR/kWh", "2.5", "0.25 EUR"),
    ]
    # 0.7525 + 0.2525 = 1.005: the lines show 0.75 + 0.25, the total the exact sum rounded once
    assert '<td class="num cost" id="split-total">1.01 EUR</td>' in split
    assert '<td class="num cost">1.01 EUR</td>' in page[page.index('id="cycle-201"') :]
    config = client.get("/sessions/400").text
    assert ">config</abbr>" in config and "3.10 CHF" in config


def test_monthly_and_daily_totals_carry_costs(client: FlaskClient) -> None:
    months = client.get("/api/totals/monthly?to=2026-06-30&months=3").json["months"]
    assert [(m["month"], m["cost"], m["costs"]) for m in months] == [
        ("2026-04", None, {}),
        ("2026-05", "2.01", {"EUR": "2.01"}),
        ("2026-06", None, {"CHF": "3.50", "EUR": "1.25"}),
    ]
    days = client.get("/api/totals/daily?from=2026-05-03&to=2026-05-04").json["days"]
    assert [(d["day"], d["cost"], d["currency"]) for d in days] == [
        ("2026-05-03", "1.01", "EUR"),
        ("2026-05-04", None, None),
    ]
    years = client.get("/api/totals").json["years"]
    assert years == [
        {**years[0], "year": 2026, "costs": {"CHF": "3.50", "EUR": "3.26"}, "cost": None}
    ]


def test_cli_outputs_carry_the_costs(
    client: FlaskClient,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "c.ini"
    config.write_text(f"[database]\nurl = {db_url}\n[site]\ntimezone = {ZONE}\n")
    monkeypatch.chdir(tmp_path)
    assert main(["--config", str(config), "sessions", "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert out == client.get("/api/sessions").text
    for s in json.loads(out):
        assert {"cost", "currency", "costs", "costs_exact", "energy_wh", "flags"} <= s.keys()
        for c in s["cycles"]:
            assert {"cost", "currency", "costs", "costs_exact", "end_reason"} <= c.keys()
    assert main(["--config", str(config), "sessions", "--format", "csv"]) == 0
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert (rows["100"]["cost"], rows["100"]["cost_exact"], rows["100"]["currency"]) == (
        "1.01",
        "1.005",
        "EUR",
    )
    assert rows["300"]["cost"] == "" and rows["500"]["currency"] == ""
    assert main(["--config", str(config), "sessions", "--charger", MODERN]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[6] == "cost"
    assert table[-1].endswith("2.01 EUR")  # the exact 2.010, not 1.01 + 1.01


def test_projected_costs_show_on_the_page(store: Store, db_url: str) -> None:
    """End to end: a tariff, a projected charge (30 min at 7.2 kW = 3.6 kWh at 0.20), shown."""
    add_tariff(store, Tariff(0, date(2025, 1, 1), Decimal("0.2000")))
    store.commit()
    s = Script(firmware="5.x", charger=MODERN)
    s.idle(1, 1).plug().state(3).charge(30).state(2).unplug()
    journal(store, s.messages)
    project_pass(store)
    client = create_app(web_config(db_url), {"TESTING": True}).test_client()
    (session,) = client.get("/api/sessions").json
    assert (session["cost"], session["currency"]) == ("0.72", "EUR")
    assert client.get("/api/totals").json["total"]["cost"] == "0.72"
    assert shown_totals(client.get("/").text, 'id="total-all"')["cost"] == "0.72 EUR"
    (row,) = csv_rows(client)
    assert cents(Decimal(row["cost_exact"])) == row["cost"] == "0.72" and row["currency"] == "EUR"
