"""Session detail `/sessions/<id>`: power and energy over time from the journal, each cycle with
its end reason, counter readings and cost, the cost split per tariff and band, and every flag
explained."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, current_app, render_template

from journal.segments import SegmentDamaged
from journal.storage import Store
from projector.money.costs import cost_parts_of_sessions, display_text
from projector.money.tariffs import CONFIG_TARIFF, NO_TARIFF
from projector.sessions import session_by_id
from webapp.db import get_db
from webapp.money_queries import band_lines, tariff_names
from webapp.series import MAX_POINTS, session_series

log = logging.getLogger(__name__)
bp = Blueprint("detail", __name__)
MAX_ID = 2**63 - 1  # ids are journal positions (BIGINT)


@dataclass(frozen=True)
class SplitLine:
    """One line of a session's cost split: energy at one price of one tariff, as shown."""

    tariff: str  # "#3", "config" (the [tariff] section), "none" (no tariff in force)
    tariff_name: str  # the longer name, for the hover text
    band: str
    price: str
    wh: float
    cost: str  # rounded once, with its currency; "" when nothing priced it


def tariff_label(tariff_id: int) -> str:
    """A tariff id as the pages show it: the configuration's [tariff] section is "config"."""
    if tariff_id == CONFIG_TARIFF:
        return "config"
    return "none" if tariff_id == NO_TARIFF else f"#{tariff_id}"


def cost_split(store: Store, session_id: int) -> list[SplitLine]:
    """The session's energy and exact cost per tariff, band and price, grouped as the monthly
    statement groups them (webapp.money_queries.band_lines), so both read the same."""
    parts = cost_parts_of_sessions(store, [session_id])
    names = tariff_names(store) if parts else {}
    store.rollback()
    return [
        SplitLine(
            tariff=tariff_label(line.tariff_id),
            tariff_name=names.get(line.tariff_id, f"tariff {line.tariff_id} (since removed)"),
            band=line.band_text,
            price=f"{line.price} {line.currency}/kWh" if line.cost is not None else "",
            wh=line.wh,
            cost=display_text({line.currency: line.cost}) if line.cost is not None else "",
        )
        for line in band_lines(parts)
    ]


@bp.route("/sessions/<int:session_id>")
def show(session_id: int) -> tuple[str, int]:
    """One plug-in session: facts, chart data, cycles, cost split; 404 when unknown.

    A damaged segment among the session's messages is never drawn: the chart's place shows the
    one line that names it, the rest of the page (all from the projection) still renders, and
    the answer is a 500 so that monitoring and scripts see the damage too."""
    if session_id > MAX_ID:
        abort(404, f"There is no session {session_id}.")
    db = get_db()
    session = session_by_id(db, session_id)
    if session is None:
        abort(404, f"There is no session {session_id}.")
    now = datetime.now(UTC)
    series: dict[str, Any] | None = None
    damaged = None
    try:
        bases = current_app.config["CHARGELOG"].chargers.bases_of(session.charger)
        series = session_series(db, session, now, bases)
    except SegmentDamaged as exc:
        damaged = str(exc)
        log.error("session %d: %s", session_id, damaged)
    page = render_template(
        "detail.html",
        s=session,
        series=series,
        damaged=damaged,
        split=cost_split(db, session_id),
        max_points=MAX_POINTS,
        zone_name=str(current_app.config["SITE_ZONE"]),
        now=now,
    )
    return page, 500 if damaged else 200
