"""Exports for scripts and the charts: the sessions as JSON (exactly `chargelog sessions --format
json`) and CSV, and totals per local day, per local month and overall. All take the page's
filters (`from`, `to`, `month`, `charger`) as query parameters.

Both read the one sessions read model (projector.sessions) and print it with
projector.session_formats: the CSV gives each session's cost as the page shows it, exact, and its
currency, so `cost_exact` sums to the exact total the page and /api/totals round once; the JSON
gives the keys of projector.money.costs.cost_fields."""

from __future__ import annotations

from datetime import date, timedelta, tzinfo

from flask import Blueprint, Response, current_app, jsonify, request

from projector.session_formats import as_json, export_csv
from projector.sessions import all_sessions, edge_session, list_sessions
from webapp.buckets import add_months, local_month, month_range, today, year_range
from webapp.db import get_db
from webapp.params import Filters, int_arg, parse_filters
from webapp.totals import daily_series, monthly_books, monthly_series, range_totals

bp = Blueprint("exports", __name__)
MAX_DAYS = 400
MAX_MONTHS = 240


def _zone() -> tzinfo:
    zone: tzinfo = current_app.config["SITE_ZONE"]
    return zone


@bp.route("/api/sessions")
def api_sessions() -> Response:
    """Exactly `chargelog sessions --format json` for the same filters."""
    filt = parse_filters(request.args).session_filter(_zone())
    return Response(as_json(list_sessions(get_db(), filt)), mimetype="application/json")


@bp.route("/sessions.csv")
def sessions_csv() -> Response:
    """Oldest first, one row per plug-in; `?month=YYYY-MM` is a stable URL for scripts."""
    filters = parse_filters(request.args)
    zone = _zone()
    text = export_csv(all_sessions(get_db(), filters.session_filter(zone)), zone)
    name = "chargelog-sessions" + (f"-{filters.args()['month']}" if filters.month else "")
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def _last_day(filters: Filters, zone: tzinfo) -> date:
    if filters.last:
        return filters.last
    if filters.month:
        return date(*add_months(*filters.month, 1), 1) - timedelta(days=1)
    return today(zone)


def _first_day(filters: Filters) -> date | None:
    return date(*filters.month, 1) if filters.month else filters.first


@bp.route("/api/totals/daily")
def daily() -> Response:
    """The last `days` local days up to `to` (default today), not before `from`."""
    filters = parse_filters(request.args)
    days = int_arg(request.args, "days", 60, 1, MAX_DAYS)
    zone = _zone()
    last = _last_day(filters, zone)
    first = last - timedelta(days=days - 1)
    floor = _first_day(filters)
    if floor and floor > first:
        first = floor
    series = daily_series(get_db(), filters.session_filter(zone), zone, first, last)
    return jsonify(
        zone=str(zone),
        days=[{"day": d.isoformat(), **t.as_json()} for d, t in series],
    )


@bp.route("/api/totals/monthly")
def monthly() -> Response:
    """The last `months` local months up to the month of `to` (default now), not before `from`."""
    filters = parse_filters(request.args)
    months = int_arg(request.args, "months", 24, 1, MAX_MONTHS)
    zone = _zone()
    last_day = _last_day(filters, zone)
    last = (last_day.year, last_day.month)
    first = add_months(*last, -(months - 1))
    floor = _first_day(filters)
    if floor and (floor.year, floor.month) > first:
        first = (floor.year, floor.month)
    db = get_db()
    series = monthly_series(db, filters.session_filter(zone), zone, first, last)
    books = monthly_books(db, zone, [month for month, _ in series], filters.charger)
    return jsonify(
        zone=str(zone),
        months=[
            {
                "month": f"{y:04d}-{m:02d}",
                **t.as_json(),
                "books": [b.as_json() for b in books[(y, m)]],
            }
            for (y, m), t in series
        ],
    )


@bp.route("/api/totals")
def totals() -> Response:
    """Overall, per year and per month with sessions: the page's totals, for scripts."""
    filters = parse_filters(request.args)
    zone = _zone()
    filt = filters.session_filter(zone)
    db = get_db()
    oldest, newest = edge_session(db, filt, newest=False), edge_session(db, filt, newest=True)
    months: list[tuple[int, int]] = []
    if oldest and newest:
        first, last = local_month(oldest.plugged_at, zone), local_month(newest.plugged_at, zone)
        count = (last[0] - first[0]) * 12 + last[1] - first[1] + 1
        months = [add_months(*first, n) for n in range(count)]
    years = sorted({y for y, _ in months})
    found = range_totals(
        db,
        filt,
        [(None, None)]
        + [year_range(y, zone) for y in years]
        + [month_range(y, m, zone) for y, m in months],
    )
    by_year = found[1 : 1 + len(years)]
    by_month = found[1 + len(years) :]
    return jsonify(
        zone=str(zone),
        total=found[0].as_json(),
        years=[{"year": y, **t.as_json()} for y, t in zip(years, by_year, strict=True)],
        months=[
            {"month": f"{y:04d}-{m:02d}", **t.as_json()}
            for (y, m), t in zip(months, by_month, strict=True)
            if t.count
        ],
    )
