"""Health `/health` (issue 4): per charger the last message and the firmware its counters show;
the journal's size and newest message; the projector's position and lag; the recorder's gaps of
the last 30 days. HTML for people, JSON for `Accept: application/json`."""

from __future__ import annotations

import random
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from journal import entries, sealing
from journal.entries import micros_text
from journal.spool import Spool, default_spool_path
from journal.storage import Store, open_store
from projector.catchup import projector_lock
from projector.runner import LIVE, project_pass
from projector.tables import read_checkpoint
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
    assert data["journal"] == {
        "position": 0,
        "newest_at": None,
        "bytes_on_disk": data["journal"]["bytes_on_disk"],  # the empty tables still take some
        "free_bytes": data["journal"]["free_bytes"],
        "bytes_per_message": None,
        "messages": 0,
        "live_rows": 0,
        "sealed_messages": 0,
        "segments": 0,
        "segment_block_bytes": 0,
        "last_seal_run_at": None,
        "last_sealed_at": None,
    }
    assert data["journal"]["bytes_on_disk"] > 0
    assert data["projector"]["position"] == 0 and data["projector"]["lag_s"] is None
    page = fresh_app.test_client().get("/health").text
    assert "No charger has been heard yet" in page
    assert 'id="health-last-seal">never<' in page


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


# ---- what keeping every message costs (issue 11) -----------------------------------------------

DAY_US = 86_400_000_000
CHARGING = ("amp", "voltage", "power", "session_energy", "temp")  # every 5 s
DUMP = ("state", "vehicle", "uptime", "total_energy", "srssi", "freeram", "ota", "config")


def two_chargers_charging(start_us: int, hours: int) -> list[tuple[str, str, bytes, int, int]]:
    """Two chargers charging at the firmware's cadence, with noise in the values."""
    rng = random.Random(11)
    rows = []
    for second in range(0, hours * 3600, 5):
        for charger in ("openevse-aaaa", "openevse-bbbb"):
            at = start_us + second * 1_000_000 + rng.randrange(1000)
            energy = second * 2.0
            values = {
                "amp": f"{rng.gauss(32000, 50):.0f}",
                "voltage": f"{rng.gauss(230, 0.8):.2f}",
                "power": f"{rng.gauss(7360, 20):.0f}",
                "session_energy": f"{energy:.1f}",
                "temp": f"{rng.gauss(300, 3):.0f}",
                "state": "3",
                "vehicle": "1",
                "uptime": str(second),
                "total_energy": f"{(100_000 + energy) / 1000:.4f}",
                "srssi": str(rng.randrange(-70, -50)),
                "freeram": str(rng.randrange(90_000, 110_000)),
                "ota": "false",
                "config": "",
            }
            keys = CHARGING + (DUMP if second % 30 == 0 else ())
            rows += [(micros_text(at), f"{charger}/{k}", values[k].encode(), 0, 0) for k in keys]
    return rows


def settled_journal(client: FlaskClient, store: Store, db_url: str) -> dict[str, Any]:
    """The health page's journal figures once the disk has given back what a seal freed:
    SQLite's file keeps freed pages until VACUUM; InnoDB frees the deleted rows' pages when its
    purge gets to them (seconds to a minute) unless OPTIMIZE TABLE rebuilds the table, and
    shows the sizes in its statistics after ANALYZE."""
    if db_url.startswith("mysql"):
        store.query("OPTIMIZE TABLE journal")
        store.query("ANALYZE TABLE journal, journal_segment")
    else:
        store.execute("VACUUM")
    store.rollback()
    return health(client)["journal"]  # type: ignore[no-any-return]


def test_the_journal_footprint_before_and_after_sealing(
    fresh_app: Flask, store: Store, db_url: str
) -> None:
    """Bytes on disk, bytes a message, live rows, segments, sealed messages and the last seal:
    a seal moves every message of an old day into a few bytes each."""
    client = fresh_app.test_client()
    now_us = int(time.time() * 1_000_000)
    day_us = (now_us // DAY_US - 5) * DAY_US
    rows = two_chargers_charging(day_us, 6)
    entries.append(store, rows)
    store.commit()
    while project_pass(store).entries:
        pass
    if db_url.startswith("mysql"):
        store.query("ANALYZE TABLE journal")  # InnoDB's size statistics, after the insert
        store.rollback()
    live = health(client)["journal"]
    assert (live["messages"], live["live_rows"], live["sealed_messages"]) == (
        len(rows),
        len(rows),
        0,
    )
    assert live["segments"] == 0 and live["last_seal_run_at"] is None
    assert live["bytes_per_message"] == round(live["bytes_on_disk"] / len(rows), 2)
    started = datetime.now(UTC).replace(microsecond=0)
    with projector_lock(store, 5):
        checkpoint = read_checkpoint(store, LIVE)
        assert checkpoint is not None
        report = sealing.seal(store, position=checkpoint.position, before_us=day_us + DAY_US)
    assert report.messages == len(rows)
    if not db_url.startswith("mysql"):
        # The rows' pages are free now, and SQLite keeps them in its file for new rows.
        unsettled = health(client)["journal"]
        assert unsettled["free_bytes"] > unsettled["bytes_on_disk"] / 2
        assert 'id="health-free"' in client.get("/health").text
    sealed = settled_journal(client, store, db_url)
    if not db_url.startswith("mysql"):
        assert sealed["free_bytes"] == 0
    assert sealed["live_rows"] == 0 and sealed["sealed_messages"] == len(rows)
    assert sealed["messages"] == len(rows) and sealed["segments"] == report.segments == 2
    assert sealed["segment_block_bytes"] == report.block_bytes < 3 * len(rows)
    assert (
        sealed["bytes_per_message"] < 6
        and 10 * sealed["bytes_per_message"] < live["bytes_per_message"]
    )
    for key in ("last_seal_run_at", "last_sealed_at"):
        assert sealed[key] >= started.strftime("%Y-%m-%dT%H:%M:%SZ")
    page = client.get("/health").text
    assert f"{len(rows):,}: 0 live rows, {len(rows):,} sealed" in page
    assert 'id="health-segments">2 <' in page
    assert (
        f"{sealed['bytes_on_disk']:,} bytes, {sealed['bytes_per_message']:.2f} bytes a message"
        in page
    )
    assert 'id="health-last-seal">never<' not in page


def test_two_devices_under_one_base_are_shown(store: Store, db_url: str) -> None:
    """Two units publishing under one base: the health page says so for that charger."""
    from tests.charge_script import Script

    a = Script(firmware="5.x", charger="openevse", t=time.time() - 3600)
    b = Script(firmware="5.x", charger="openevse", t=a.t + 7.0)
    a.uptime, b.uptime = 500_000.0, 1_000.0
    a.idle(20, 1)
    b.idle(20, 1)
    single = Script(firmware="5.x", charger=MODERN, t=a.t)
    single.idle(20, 1)
    everything = sorted(a.messages + b.messages + single.messages, key=lambda m: m[0])
    rows = [(micros_text(round(t * 1e6)), topic, p, 0, int(r)) for t, topic, p, r in everything]
    entries.append(store, rows)
    store.commit()
    project_pass(store)
    client = create_app(web_config(db_url), {"TESTING": True}).test_client()
    chargers = {c["name"]: c for c in health(client)["chargers"]}
    assert chargers["openevse"]["two_devices"] >= 10
    assert chargers[MODERN]["two_devices"] == 0
    page = client.get("/health").text
    row = page[page.index('<td class="charger">openevse') :]
    assert "two devices publish under this base" in row[: row.index("</tr>")]
    other = page[page.index(f'<td class="charger">{MODERN}') :]
    assert "two devices" not in other[: other.index("</tr>")]


def test_stale_replays_are_counted_per_charger(store: Store, db_url: str) -> None:
    """An imported capture that begins with the broker's retained values of an old charge: no
    session, and the health page counts the replay."""
    from tests.charge_script import Script

    s = Script(firmware="5.x", charger=MODERN, t=time.time() - 3600)
    s.send("state", "3").send("vehicle", "1").send("session_energy", "21000.0")
    s.wait(20).dump(1)
    s.idle(10, 1)
    rows = [(micros_text(round(t * 1e6)), topic, p, 0, 0) for t, topic, p, _ in s.messages]
    entries.append(store, rows)
    store.commit()
    project_pass(store)
    client = create_app(web_config(db_url), {"TESTING": True}).test_client()
    (charger,) = health(client)["chargers"]
    assert charger["replays"] == 1 and not charger["plugged"]
    assert client.get("/api/sessions").json == []


@pytest.mark.parametrize(
    ("kind", "scale", "vehicle", "label"),
    [
        ("session_energy", None, True, "4.1.1 or newer (session_energy)"),
        ("wh", 1 / 3600, False, "2.x up to 2.7.5 (wh in watt-seconds)"),
        ("wh", 1.0, False, "2.7.6 to 3.x (wh lifetime, no vehicle)"),
        ("wh", 1.0, True, "4.0 to 4.1.0 (wh lifetime, no session counter)"),
        (None, None, False, "unknown (no energy counter seen)"),
    ],
)
def test_the_firmware_column_names_the_generation_truthfully(
    kind: str | None, scale: float | None, vehicle: bool, label: str
) -> None:
    """A lifetime `wh` with `vehicle` is 4.0 to 4.1.0, not "2.x"; without it 2.7.6 to 3.x."""
    from projector.status import firmware_label

    assert firmware_label(kind, scale, vehicle) == label
