"""The sessions page `/`: plug-ins newest first, grouped by local month with month, year and
overall totals, filters, paging, the live session, and the charts (drawn by static/charts.js
from the /api/totals endpoints). Costs show as projector.money.costs.display_text says,
everywhere."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import groupby

from flask import Blueprint, current_app, render_template, request

from projector.books import Books
from projector.sessions import (
    SessionRow,
    charger_names,
    has_sessions,
    open_sessions,
    page_of_sessions,
)
from projector.status import charger_statuses
from webapp.buckets import NamedMonth, add_months, local_month, month_range, year_range
from webapp.db import get_db
from webapp.params import int_arg, parse_filters
from webapp.totals import Totals, monthly_books, range_totals

bp = Blueprint("sessions", __name__)
MAX_PAGE = 1_000_000
# A charger dumps every 30 s and the projector passes every minute or so: heard within this long,
# what the projection says of it is the present.
HEARD_LATELY = timedelta(minutes=10)


@dataclass(frozen=True)
class MonthGroup(NamedMonth):
    """The sessions of one local month on this page, with the whole month's totals."""

    year: int
    month: int
    sessions: list[SessionRow]
    totals: Totals
    books: list[Books]

    @property
    def open_books(self) -> list[Books]:
        """The chargers whose meter rose by more or less than this month explains."""
        return [b for b in self.books if not b.closes]

    @property
    def partial(self) -> bool:
        """Whether some of the month's sessions are on another page."""
        return len(self.sessions) < self.totals.count


@bp.route("/")
def index() -> str:
    """The sessions page: one page of sessions, whole-bucket totals, live banner."""
    zone = current_app.config["SITE_ZONE"]
    size: int = current_app.config["PAGE_SIZE"]
    filters = parse_filters(request.args)
    page = int_arg(request.args, "page", 1, 1, MAX_PAGE)
    filt = filters.session_filter(zone)
    db = get_db()
    sessions = page_of_sessions(db, filt, size, (page - 1) * size)
    months = list(dict.fromkeys(local_month(s.plugged_at, zone) for s in sessions))
    years = list(dict.fromkeys(year for year, _ in months))
    totals = range_totals(
        db,
        filt,
        [(None, None)]
        + [month_range(y, m, zone) for y, m in months]
        + [year_range(y, zone) for y in years],
    )
    overall, month_totals = totals[0], dict(zip(months, totals[1:], strict=False))
    year_totals = dict(zip(years, totals[1 + len(months) :], strict=True))
    books = monthly_books(db, zone, months, filters.charger)
    groups = [
        MonthGroup(y, m, list(rows), month_totals[(y, m)], books[(y, m)])
        for (y, m), rows in groupby(sessions, key=lambda s: local_month(s.plugged_at, zone))
    ]
    statuses = charger_statuses(db)
    first_day, last_day = filters.first, filters.last
    if filters.month:
        first_day = date(*filters.month, 1)
        last_day = date(*add_months(*filters.month, 1), 1) - timedelta(days=1)
    now = datetime.now(UTC)
    return render_template(
        "sessions.html",
        filters=filters,
        first_day=first_day,
        last_day=last_day,
        page=page,
        pages=max(1, -(-overall.count // size)),
        groups=groups,
        overall=overall,
        year_totals=year_totals,
        live=open_sessions(db, [s.name for s in statuses if s.plugged]),
        charging={s.name for s in statuses if s.charging},
        # "Charging now" only for a charger heard lately; else when it last was.
        last_heard={s.name: s.last_message_at for s in statuses},
        heard_lately={
            s.name
            for s in statuses
            if s.last_message_at is not None and now - s.last_message_at <= HEARD_LATELY
        },
        chargers=charger_names(db),
        empty_install=overall.count == 0 and not has_sessions(db),
        now=now,
    )
