"""Session detail `/sessions/<id>`: power and energy over time from the journal, each cycle with
its end reason and counter readings, and every flag explained."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, abort, current_app, render_template

from webapp.db import get_db
from webapp.queries import session_by_id
from webapp.series import MAX_POINTS, session_series

bp = Blueprint("detail", __name__)
MAX_ID = 2**63 - 1  # ids are journal positions (BIGINT)


@bp.route("/sessions/<int:session_id>")
def show(session_id: int) -> str:
    """One plug-in session: facts, chart data, cycles; 404 when unknown."""
    if session_id > MAX_ID:
        abort(404, f"There is no session {session_id}.")
    db = get_db()
    session = session_by_id(db, session_id)
    if session is None:
        abort(404, f"There is no session {session_id}.")
    now = datetime.now(UTC)
    series = session_series(db, session, now)
    return render_template(
        "detail.html",
        s=session,
        series=series,
        max_points=MAX_POINTS,
        zone_name=str(current_app.config["SITE_ZONE"]),
        now=now,
    )
