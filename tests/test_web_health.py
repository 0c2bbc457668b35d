"""Health `/health` (issue 4): per charger the last message and the firmware its counters show;
the journal's size and newest message; the projector's position and lag; the recorder's gaps of
the last 30 days. HTML for people, JSON for `Accept: application/json`."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from journal.spool import Spool, default_spool_path
from journal.storage import Store, open_store
from tests.web_site import EVIL, LEGACY, MODERN, RECENT, web_config
from webapp import create_app

JSON = {"Accept": "application/json"}


def health(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/health", headers=JSON)
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert "Accept" in response.headers["Vary"]
    return response.json  # type: ignore[no-any-return]


def test_chargers(client: FlaskClient) -> None:
    chargers = {c["name"]: c for c in health(client)["chargers"]}
    assert sorted(chargers) == sorted([MODERN, LEGACY, EVIL, RECENT])
    assert chargers[MODERN]["firmware"] == "4.1.1 or newer (session_energy)"
    assert chargers[LEGACY]["firmware"].startswith("2.x up to 2.7.5")
    assert chargers[MODERN]["charging"] and chargers[MODERN]["plugged"]
    assert chargers[MODERN]["last_message_at"].startswith("2026-04-20T17:0")
    assert not chargers[RECENT]["plugged"]


def test_journal_and_projector(client: FlaskClient, site_url: str) -> None:
    data = health(client)
    with open_store(site_url) as store:
        newest = store.query_one("SELECT MAX(seq) FROM journal")
    assert newest and data["journal"]["position"] == newest[0]
    assert data["projector"]["position"] == newest[0]
    assert data["projector"]["lag_entries"] == 0 and data["projector"]["lag_s"] == 0
    assert data["journal"]["newest_at"] == data["projector"]["newest_at"]
    assert data["projector"]["version"] >= 1


def test_recorder_gaps_of_the_last_30_days(client: FlaskClient) -> None:
    """The site ends with months of silence, an idle burst, a day of silence, another burst."""
    gaps = health(client)["gaps"]
    assert [86_400 <= g["seconds"] < 86_500 for g in gaps] == [True, False]  # newest first
    assert gaps[1]["started_at"].startswith("2026-04-20T17:0")
    page = client.get("/health").text
    assert 'id="health-gaps"' in page and "24 h 00 min" in page


def test_html(client: FlaskClient) -> None:
    response = client.get("/health")
    assert response.mimetype == "text/html"
    page = response.text
    assert 'id="health-chargers"' in page and 'id="health-journal"' in page
    assert "4.1.1 or newer (session_energy)" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and EVIL not in page


def test_new_install(fresh_app: Flask) -> None:
    data = health(fresh_app.test_client())
    assert data["chargers"] == [] and data["gaps"] == [] and data["broker_sessions_lost"] == []
    assert data["journal"] == {"position": 0, "newest_at": None}
    assert data["projector"]["position"] == 0 and data["projector"]["lag_s"] is None
    assert "No charger has been heard yet" in fresh_app.test_client().get("/health").text


def test_broker_sessions_lost(fresh_app: Flask, store: Store) -> None:
    """The recorder's records of a broker that forgot its session (issue 9), newest first, those
    noticed in the last 30 days only."""
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC).replace(microsecond=0)

    def text(moment: datetime) -> str:
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f")

    def iso(moment: datetime) -> str:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    rows = [("rec", now - timedelta(days=d, hours=1), now - timedelta(days=d)) for d in (40, 2, 0)]
    with store.transaction():
        store.executemany(
            "INSERT INTO broker_session_lost (client_id, since, detected_at) VALUES (?, ?, ?)",
            [(c, text(a), text(b)) for c, a, b in rows],
        )
    data = health(fresh_app.test_client())
    assert data["broker_sessions_lost"] == [
        {"client_id": "rec", "since": iso(a), "detected_at": iso(b)} for _, a, b in rows[:0:-1]
    ]
    page = fresh_app.test_client().get("/health").text
    assert page.count("<tr><td>rec</td>") == 2 and 'id="no-broker-sessions-lost"' not in page


def test_the_recorder_spool_size_and_free_space(site_url: str, tmp_path: Path) -> None:
    """Issue 9: messages waiting in the spool are not in the journal yet, and a full spool disk
    blocks the recorder: both show, at the path the recorder itself would use."""
    base = web_config(site_url)
    cfg = replace(base, recorder=replace(base.recorder, spool_path=str(tmp_path / "r.spool")))
    client = create_app(cfg, {"TESTING": True}).test_client()
    assert default_spool_path(cfg) == tmp_path / "r.spool"
    empty = health(client)["spool"]
    assert empty["path"] == str(tmp_path / "r.spool") and empty["bytes"] == 0
    assert empty["free_bytes"] > 0
    Spool(tmp_path / "r.spool").append([("2026-01-01 00:00:00.000000", "t/a", b"x" * 5000, 1, 0)])
    size = (tmp_path / "r.spool").stat().st_size
    assert size > 5000 and health(client)["spool"]["bytes"] == size
    page = client.get("/health").text
    assert 'id="health-spool"' in page and f"{size:,} bytes" in page


@pytest.mark.parametrize("path", ["/", "/health", "/api/sessions", "/sessions.csv"])
def test_database_not_migrated(db_url: str, path: str) -> None:
    client = create_app(web_config(db_url), {"TESTING": True}).test_client()
    response = client.get(path)
    assert response.status_code == 503
    assert "chargelog migrate" in response.text
