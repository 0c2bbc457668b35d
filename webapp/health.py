"""Health `/health`: is logging working? Per charger the last message and the firmware the
counters reveal, the journal's newest message and what keeping it costs (bytes on disk, live rows
and sealed segments, the last seal), where the projector stands, and the recorder's silences over
the last 30 days. HTML for people, JSON with Accept: application/json.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template

from journal.spool import Spool, SpoolStatus, default_spool_path
from projector.announces import Device, announced, suggestions
from projector.books import Books
from projector.status import (
    BrokerSessionLoss,
    ChargerStatus,
    JournalFootprint,
    ProjectionStatus,
    broker_sessions_lost,
    charger_statuses,
    journal_footprint,
    projection_status,
    recorder_gaps,
)
from webapp.buckets import add_months, local_month
from webapp.db import get_db
from webapp.security import wants_json
from webapp.totals import monthly_books

bp = Blueprint("health", __name__)
GAP_WINDOW = timedelta(days=30)
BOOKS_MONTHS = 12
Gap = tuple[datetime, datetime, int]


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def _lag_s(status: ProjectionStatus) -> int | None:
    """How far behind the journal the projection's newest entry is, in seconds."""
    newest, projected = status.journal_newest_at, status.projected_newest_at
    if newest is None or projected is None:
        return None
    return max(0, int((newest - projected).total_seconds()))


def _footprint_json(footprint: JournalFootprint) -> dict[str, Any]:
    per_message = footprint.bytes_per_message
    return {
        "bytes_on_disk": footprint.disk_bytes,
        "free_bytes": footprint.free_bytes,
        "bytes_per_message": None if per_message is None else round(per_message, 2),
        "messages": footprint.messages,
        "live_rows": footprint.live_rows,
        "sealed_messages": footprint.sealed_messages,
        "segments": footprint.segments,
        "segment_block_bytes": footprint.block_bytes,
        "last_seal_run_at": _iso(footprint.last_seal_run_at),
        "last_sealed_at": _iso(footprint.last_sealed_at),
    }


def as_json(
    chargers: list[ChargerStatus],
    status: ProjectionStatus,
    gaps: list[Gap],
    now: datetime,
    lost: list[BrokerSessionLoss] | None = None,
    footprint: JournalFootprint | None = None,
    books: list[tuple[tuple[int, int], Books]] | None = None,
    devices: list[Device] | None = None,
    suggested: list[str] | None = None,
) -> dict[str, Any]:
    """The health page as JSON: times ISO 8601 UTC with a Z, like the API."""
    return {
        "now": _iso(now),
        "chargers": [
            {
                "name": c.name,
                "last_message_at": _iso(c.last_message_at),
                "firmware": c.firmware,
                "state": c.state,
                "plugged": c.plugged,
                "charging": c.charging,
                "bad_values": c.bad_values,
                "two_devices": c.two_devices,
                "replays": c.replays,
            }
            for c in chargers
        ],
        "journal": {
            "position": status.journal_position,
            "newest_at": _iso(status.journal_newest_at),
            **(_footprint_json(footprint) if footprint is not None else {}),
        },
        "projector": {
            "position": status.projected_position,
            "newest_at": _iso(status.projected_newest_at),
            "lag_entries": status.lag_entries,
            "lag_s": _lag_s(status),
            "version": status.projector_version,
            "updated_at": _iso(status.updated_at),
        },
        "gaps_days": GAP_WINDOW.days,
        "gaps": [
            {"started_at": _iso(start), "ended_at": _iso(end), "seconds": seconds}
            for start, end, seconds in gaps
        ],
        # The broker forgot the recorder's session (it restarted before saving it): what it
        # had queued for the recorder from `since` until `detected_at` may be missing.
        "broker_sessions_lost": [
            {
                "client_id": x.client_id,
                "since": _iso(x.since),
                "detected_at": _iso(x.detected_at),
            }
            for x in lost or []
        ],
        # Per charger and local month, newest first: the meter's rise against the sessions.
        "books_months": BOOKS_MONTHS,
        "books": [{"month": f"{y:04d}-{m:02d}", **b.as_json()} for (y, m), b in books or []],
        # Devices that announced themselves (openevse/announce/<id>), with every base topic they
        # used, and the [chargers] lines that would keep a renamed one one charger.
        "announced": [{"id": d.id, "name": d.name, "bases": list(d.bases)} for d in devices or []],
        "chargers_suggested": suggested or [],
    }


def recent_books(now: datetime) -> list[tuple[tuple[int, int], Books]]:
    """The books of the last BOOKS_MONTHS local months with any, newest first."""
    zone = current_app.config["SITE_ZONE"]
    last = local_month(now, zone)
    months = [add_months(*last, -n) for n in range(BOOKS_MONTHS)]
    found = monthly_books(get_db(), zone, months)
    return [(month, b) for month in months for b in found[month]]


def spool_status() -> SpoolStatus:
    """The recorder's spool, found the way the recorder finds it (the same configuration):
    messages waiting there are not in the journal yet, and a full disk blocks the recorder."""
    return Spool(default_spool_path(current_app.config["CHARGELOG"])).status()


@bp.route("/health")
def show() -> Response:
    """HTML for people, JSON for `Accept: application/json` (Vary: Accept)."""
    now = datetime.now(UTC)
    db = get_db()
    chargers = charger_statuses(db)
    status = projection_status(db)
    footprint = journal_footprint(db)
    gaps = recorder_gaps(db, now - GAP_WINDOW)
    lost = broker_sessions_lost(db, now - GAP_WINDOW)
    spool = spool_status()
    books = recent_books(now)
    devices = announced(db)
    suggested = suggestions(devices, current_app.config["CHARGELOG"].chargers.display_names())
    if wants_json():
        figures = as_json(chargers, status, gaps, now, lost, footprint, books, devices, suggested)
        response = jsonify({**figures, "spool": asdict(spool)})
    else:
        page = render_template(
            "health.html",
            chargers=chargers,
            status=status,
            footprint=footprint,
            db_dialect=db.dialect,
            lag_s=_lag_s(status),
            gaps=gaps,
            lost=lost,
            spool=spool,
            books=books,
            books_months=BOOKS_MONTHS,
            devices=devices,
            suggested=suggested,
            gap_days=GAP_WINDOW.days,
            now=now,
        )
        response = Response(page, mimetype="text/html")
    response.vary.add("Accept")
    return response
