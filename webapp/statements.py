"""Monthly statements for reimbursement: `/statements` lists the months with sessions,
`/statements/YYYY-MM` is one month (printable: the print stylesheet drops the navigation and the
links), `/statements/YYYY-MM.csv` the same lines as CSV.

A statement's sessions are those whose plug-in falls in the local month, chosen with the sessions
page's own month filter, so its totals are that page's and `/api/totals/monthly`'s.

The CSV is one table with a header row and a `section` column:
- `session`: one line per plug-in (`session_id`, local `plugged_local` and `unplugged_local`,
  `charger`, `energy_kwh`, `cost`, `currency`); a session priced in several currencies has one
  more line per extra currency, with its energy on the first line only;
- `band`: energy and cost per tariff, band ('' = the base price) and price (`tariff_id`, `band`,
  `price`, `energy_kwh`, `cost`, `currency`); energy no tariff covered has tariff 0 and no cost;
- `total`: the month's energy on the first line, and one line per currency with its cost;
- `books`: per charger with a lifetime meter, the month's books against it (projector.books):
  `energy_kwh` the sessions' energy, `meter_kwh` how far the meter rose, `gaps_kwh` energy
  delivered while nothing was heard, `rollbacks_kwh` the meter going back (rollbacks and resets,
  negative), `outside_kwh` counted outside any session, `remainder_kwh` what nothing explains.
Session lines carry the meter at plug-in and at the session's last reading (`meter_start_kwh`,
`meter_end_kwh`; empty where it was not read from the plug-in on).
Energy is the stored value in kWh, unrounded (the session lines add up to the total exactly).
Money is plain decimal text: `cost` rounded once to cents by the one rule (projector.money.costs),
exactly the figures of the HTML page; `cost_exact` unrounded, so a column of it adds up to the
exact total (the rounded lines may differ from the rounded total by a cent).
"""

from __future__ import annotations

import csv
import io
from datetime import tzinfo
from typing import Any

from flask import Blueprint, Response, current_app, render_template
from werkzeug.exceptions import NotFound

from projector.money.costs import Amounts, exact_text, rounded
from projector.session_formats import exact_kwh
from webapp.buckets import add_months
from webapp.db import get_db
from webapp.money_queries import Statement, statement_months, statement_of
from webapp.params import BadParam, parse_month

bp = Blueprint("statements", __name__)
CSV_COLUMNS = (
    "section",
    "month",
    "session_id",
    "plugged_local",
    "unplugged_local",
    "charger",
    "tariff_id",
    "band",
    "price",
    "energy_kwh",
    "cost",
    "cost_exact",
    "currency",
    "meter_start_kwh",
    "meter_end_kwh",
    "meter_kwh",
    "gaps_kwh",
    "rollbacks_kwh",
    "outside_kwh",
    "remainder_kwh",
)
LOCAL = "%Y-%m-%d %H:%M:%S"


def _zone() -> tzinfo:
    zone: tzinfo = current_app.config["SITE_ZONE"]
    return zone


@bp.route("/statements")
def index() -> str:
    """Every month with a session, newest first, each linking to its statement and CSV."""
    months = statement_months(get_db(), _zone())
    return render_template("statements.html", months=months)


def _month(text: str) -> tuple[int, int]:
    """YYYY-MM from the URL, or a 404 that says what a statement's address looks like."""
    try:
        return parse_month(text)
    except BadParam:
        raise NotFound(
            f"There is no statement {text!r}: a statement is for one month, "
            "/statements/YYYY-MM (for example /statements/2026-01), with a month from 01 to 12."
        ) from None


@bp.route("/statements/<name>")
def show(name: str) -> Response | str:
    """One month's statement: HTML, or CSV when the address ends in .csv."""
    if name.endswith(".csv"):
        return _csv(_month(name.removesuffix(".csv")))
    year, month = _month(name)
    statement = statement_of(get_db(), year, month, _zone())
    previous, following = add_months(year, month, -1), add_months(year, month, 1)
    return render_template(
        "statement.html",
        statement=statement,
        previous=f"{previous[0]:04d}-{previous[1]:02d}",
        following=f"{following[0]:04d}-{following[1]:02d}",
    )


def csv_rows(statement: Statement, zone: tzinfo) -> list[list[Any]]:
    """The statement as the CSV's lines (see the module docstring for the layout)."""
    key = statement.key
    lines: list[list[Any]] = []
    for item in statement.sessions:
        s = item.session
        head = [
            "session",
            key,
            s.id,
            s.plugged_at.astimezone(zone).strftime(LOCAL),
            s.unplugged_at.astimezone(zone).strftime(LOCAL) if s.unplugged_at else "",
            s.charger,
            "",
            "",
            "",
        ]
        meter = s.meter
        readings = [exact_kwh(meter[0]), exact_kwh(meter[1])] if meter else ["", ""]
        for n, (currency, cost, exact) in enumerate(_money(item.costs)):
            first = n == 0
            lines.append(
                [*head, exact_kwh(s.wh) if first else "", cost, exact, currency]
                + (readings if first else ["", ""])
            )
    for band in statement.bands:
        ((currency, cost, exact),) = _money(band.amounts)
        lines.append(
            [
                "band",
                key,
                "",
                "",
                "",
                "",
                band.tariff_id,
                band.band,
                str(band.price) if band.cost is not None else "",
                exact_kwh(band.wh),
                cost,
                exact,
                currency,
            ]
        )
    total_kwh = f"{statement.wh / 1000:f}"
    for n, (currency, cost, exact) in enumerate(_money(statement.costs)):
        kwh = total_kwh if n == 0 else ""
        lines.append(["total", key, "", "", "", "", "", "", "", kwh, cost, exact, currency])
    for b in statement.books:
        figures = (b.meter_wh, b.gaps_wh, b.rollbacks_wh + b.resets_wh, b.outside_wh)
        lines.append(
            ["books", key, "", "", "", b.charger, "", "", "", exact_kwh(round(b.sessions_wh, 3))]
            + ["", "", "", "", ""]
            + [exact_kwh(round(v, 3)) for v in (*figures, b.remainder_wh)]
        )
    return [line + [""] * (len(CSV_COLUMNS) - len(line)) for line in lines]


def _money(amounts: Amounts) -> list[tuple[str, str, str]]:
    """(currency, rounded, exact) per currency, or one empty line when nothing was priced."""
    shown = rounded(amounts)
    return [(c, shown[c], exact_text(amounts[c])) for c in shown] or [("", "", "")]


def _csv(month: tuple[int, int]) -> Response:
    zone = _zone()
    statement = statement_of(get_db(), *month, zone)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(csv_rows(statement, zone))
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="chargelog-statement-{statement.key}.csv"'
        },
    )
