"""Session detail `/sessions/<id>` (issue 4): power and energy from the journal, downsampled on
the server; counters and end reason of each cycle; every flag explained; 404 for unknown ids.
Issue 11: the same curve when the session's messages are sealed, wholly or partly; a damaged
segment is shown as its one line, never drawn."""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape  # what Jinja's autoescape writes

from journal import entries, reader, sealing, segments
from journal.storage import Store
from projector.catchup import projector_lock
from projector.records import FLAG_TEXT
from projector.runner import LIVE, project_pass
from projector.tables import read_checkpoint
from tests import web_site
from tests.web_site import EVIL, LEGACY
from webapp import create_app, sealed, series
from webapp.formatting import END_REASON_TEXT


def sessions(client: FlaskClient) -> list[dict[str, Any]]:
    return client.get("/api/sessions").json  # type: ignore[no-any-return]


def long_session(client: FlaskClient) -> dict[str, Any]:
    return next(s for s in sessions(client) if s["energy_wh"] == 36000)


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def chart(html: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="session-series">(.*?)</script>', html)
    assert found, "no chart data on the page"
    return json.loads(found[1])  # type: ignore[no-any-return]


def test_every_session_has_a_page(client: FlaskClient) -> None:
    for s in sessions(client):
        response = client.get(f"/sessions/{s['id']}")
        assert response.status_code == 200, s
        assert f"{s['energy_wh'] / 1000:,.1f} kWh" in response.text


def test_power_and_energy_of_a_long_session(client: FlaskClient) -> None:
    s = long_session(client)
    page = client.get(f"/sessions/{s['id']}").text
    assert 'id="chart-session"' in page and 'data-chart="session"' in page
    data = chart(page)
    assert not data["sampled"] and 0 < len(data["t"]) <= series.MAX_POINTS
    assert data["t"] == sorted(data["t"])
    assert data["t"][0] >= _epoch(s["plugged_at"]) - 1  # within the plug-in
    assert data["t"][-1] <= _epoch(s["unplugged_at"]) + 1
    assert max(p for p in data["power_kw"] if p is not None) == 7.2
    assert data["energy_kwh"][-1] == 36.0  # counted as the projector counts, rollback included


def test_a_long_session_is_sampled(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(series, "SAMPLE_ROWS", 2000)
    page = client.get(f"/sessions/{long_session(client)['id']}").text
    data = chart(page)
    assert data["sampled"] and "sampled" in page
    assert 10 < len(data["t"]) <= series.MAX_POINTS
    assert 34.0 < data["energy_kwh"][-1] <= 36.0


def test_legacy_watt_seconds(client: FlaskClient) -> None:
    s = next(s for s in sessions(client) if s["charger"] == LEGACY and s["energy_wh"])
    data = chart(client.get(f"/sessions/{s['id']}").text)
    assert data["energy_kwh"][-1] == pytest.approx(7.2, abs=0.07)  # wh / 3600, 30 s cadence
    assert set(data["power_kw"]) == {None}  # this 2.x script sends no amps or volts


def test_cycles_counters_reasons_and_flags(client: FlaskClient) -> None:
    s = long_session(client)
    page = client.get(f"/sessions/{s['id']}").text
    for cycle in s["cycles"]:
        row = page[page.index(f'id="cycle-{cycle["id"]}"') :]
        row = row[: row.index("</tr>")]
        assert f">{cycle['end_reason']}</abbr>" in row
        assert f"{cycle['counter_end']:,.1f}" in row
    for name in s["flags"]:
        assert FLAG_TEXT[name] in page
    assert "3 min without data" in page
    assert END_REASON_TEXT["reboot"] in page and END_REASON_TEXT["stopped"] in page


def test_first_session_counters(client: FlaskClient) -> None:
    first = sessions(client)[0]
    page = client.get(f"/sessions/{first['id']}").text
    assert [(c["counter_start"], c["counter_end"]) for c in first["cycles"]] == [
        (0.0, 3600.0),
        (3600.0, 5400.0),
    ]
    assert ">3,600.0<" in page and ">5,400.0<" in page and ">paused</abbr>" in page


def test_live_and_idle_sessions(client: FlaskClient) -> None:
    live = next(s for s in sessions(client) if s["unplugged_at"] is None)
    page = client.get(f"/sessions/{live['id']}").text
    assert "still plugged in" in page and "charging" in page
    idle = next(s for s in sessions(client) if s["charger"] == LEGACY and not s["cycles"])
    assert "never charged" in client.get(f"/sessions/{idle['id']}").text


def test_escaped_charger(client: FlaskClient) -> None:
    s = next(s for s in sessions(client) if s["charger"] == EVIL)
    page = client.get(f"/sessions/{s['id']}").text
    assert EVIL not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.parametrize("path", ["/sessions/1", "/sessions/99999999999999999999999999"])
def test_unknown_session(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404 and "There is no session" in response.text


@pytest.mark.parametrize("path", ["/sessions/abc", "/sessions/-1", "/sessions/"])
def test_not_a_session_url(client: FlaskClient, path: str) -> None:
    assert client.get(path).status_code == 404


# ---- sealed sessions (issue 11): the curve from segments is the curve from rows ---------------

PART_SEALED = "2026-04-10 08:00:00"  # inside the long session: its start sealed, its end live


def seal_before(store: Store, moment_us: int) -> int:
    """Seal the projected rows received before a moment (as `chargelog seal` does); how many."""
    with projector_lock(store, 5):
        checkpoint = read_checkpoint(store, LIVE)
        assert checkpoint is not None
        report = sealing.seal(store, position=checkpoint.position, before_us=moment_us)
    return report.messages


def micros(text: str) -> int:
    return round(web_site.at(text) * 1_000_000)


@pytest.fixture
def own_site(store: Store, db_url: str) -> Flask:
    """tests/web_site.py in a database of this test's own, which it may seal and damage."""
    web_site.build(store, NOW)
    return create_app(web_site.web_config(db_url), {"TESTING": True})


NOW = datetime.now(UTC)


def curves(client: FlaskClient) -> dict[int, dict[str, Any] | None]:
    """Every session's chart data as its page shows it (None: no chart)."""
    out: dict[int, dict[str, Any] | None] = {}
    for s in sessions(client):
        page = client.get(f"/sessions/{s['id']}")
        assert page.status_code == 200, s
        out[s["id"]] = chart(page.text) if 'id="session-series"' in page.text else None
    return out


def where(store: Store, session_id: int) -> tuple[int, int]:
    """(live rows, sealed messages) among a session's first 500 journal positions."""
    live = store.query_one(
        "SELECT COUNT(*) FROM journal WHERE seq >= ? AND seq < ?", (session_id, session_id + 500)
    )
    sealed = sum(
        1
        for info in segments.overlapping(store, session_id - 1, session_id + 499)
        for m in segments.load(store, info)
        if session_id <= m[0] < session_id + 500
    )
    store.rollback()
    assert live is not None
    return int(live[0]), sealed


def test_the_curve_is_the_same_partly_and_wholly_sealed(own_site: Flask, store: Store) -> None:
    client = own_site.test_client()
    live = curves(client)
    long_id = long_session(client)["id"]
    assert live[long_id] and len(live[long_id]["t"]) > 500  # type: ignore[index]
    assert seal_before(store, micros(PART_SEALED)) > 0
    assert where(store, long_id)[1] > 0  # its start is sealed ...
    last = store.query_one("SELECT COUNT(*) FROM journal WHERE seq > ?", (long_id,))
    assert last and last[0] > 0  # ... and its end still live
    store.rollback()
    assert curves(client) == live
    assert seal_before(store, int(NOW.timestamp() * 1_000_000) + 1) > 0
    assert store.query_one("SELECT COUNT(*) FROM journal") == (0,)
    store.rollback()
    assert curves(client) == live
    assert curves(client) == live  # again, from the cache of decoded segments


def test_sealed_messages_are_read_whole_not_sampled(
    own_site: Flask, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sampling bounds the database's work on long live ranges; a sealed range is decoded once
    and cached, so all of it is drawn: the same curve as the unsampled read of the rows."""
    client = own_site.test_client()
    long_id = long_session(client)["id"]
    whole = chart(client.get(f"/sessions/{long_id}").text)
    assert not whole["sampled"]
    monkeypatch.setattr(series, "SAMPLE_ROWS", 2000)
    assert chart(client.get(f"/sessions/{long_id}").text)["sampled"]
    seal_before(store, micros(PART_SEALED))
    partly = chart(client.get(f"/sessions/{long_id}").text)
    assert partly["sampled"]  # the live end still is
    assert 34.0 < partly["energy_kwh"][-1] <= 36.0
    seal_before(store, int(NOW.timestamp() * 1_000_000) + 1)
    assert chart(client.get(f"/sessions/{long_id}").text) == whole


@pytest.mark.parametrize("column", ["block", "checksum"])
def test_a_damaged_segment_shows_its_line_and_no_chart(
    own_site: Flask, store: Store, column: str
) -> None:
    client = own_site.test_client()
    s = long_session(client)
    seal_before(store, micros(PART_SEALED))
    (info,) = [i for i in segments.every(store) if i.first_seq <= s["id"] <= i.last_seq]
    (value,) = store.query_one(f"SELECT {column} FROM journal_segment WHERE id = ?", (info.id,))
    flipped = bytearray(value)
    flipped[len(flipped) // 2] ^= 0x10
    with store.transaction():
        store.execute(
            f"UPDATE journal_segment SET {column} = ? WHERE id = ?", (bytes(flipped), info.id)
        )
    with pytest.raises(segments.SegmentDamaged) as damaged:
        segments.load(store, info)
    store.rollback()
    line = str(damaged.value)
    assert f"journal segment {info.id} ({web_site.MODERN}, 2026-04-10) is damaged" in line
    response = client.get(f"/sessions/{s['id']}")
    assert response.status_code == 500
    page = response.text
    assert str(escape(line)) in page and 'id="chart-session-damaged"' in page
    assert 'id="chart-session"' not in page and 'id="session-series"' not in page
    assert 'id="session-facts"' in page and all(
        f'id="cycle-{c["id"]}"' in page for c in s["cycles"]
    )
    # Sessions of other days and chargers are still drawn.
    others = [x for x in sessions(client) if x["id"] != s["id"]]
    assert all(client.get(f"/sessions/{x['id']}").status_code == 200 for x in others)


JUNK = [b"7200", b" 12.5", b"12abc", b"abc", b"", b"-3", b"1e3", b"5e12", b".5", b"5.", b"+4"]
JUNK += [b"0x1A", b"true", b"\xff\x00", b"230.45", b"1e", b"  ", b"3.25e-2 V"]


def test_payloads_read_as_the_database_reads_them(store: Store) -> None:
    """webapp.sealed reads a sealed payload as the live SQL's CAST does, junk included."""
    rows = [
        (entries.micros_text(1_767_225_600_000_000 + i), "c/power", p, 0, 0)
        for i, p in enumerate(JUNK)
    ]
    entries.append(store, rows)
    store.commit()
    cast = store.real_sql("payload")
    got = store.query(f"SELECT payload, {cast} FROM journal ORDER BY seq")
    store.rollback()
    assert [(bytes(p), float(v)) for p, v in got] == [(p, sealed.sql_real(p)) for p in JUNK]


@pytest.mark.parametrize("shuffled", [False, True])
def test_sealed_buckets_equal_the_databases(store: Store, shuffled: bool) -> None:
    """The same readings as live rows (the database's buckets) and sealed (Python's), junk
    values and edges included; shuffled receive times take the reading-by-reading path."""
    rng = random.Random(4)
    base = 1_767_225_600_000_000  # 2026-01-01 UTC
    width = 2_000_000
    times = sorted(rng.randrange(0, 600_000_000) for _ in range(3000))
    if shuffled:
        rng.shuffle(times)
    topics = ["c/power", "c/amp", "d/power"]
    rows = [
        (
            entries.micros_text(base + t),
            rng.choice(topics),
            rng.choice([*JUNK, b"7200", b"230.45"])
            if rng.random() < 0.2
            else b"%.2f" % rng.uniform(0, 8000),
            0,
            0,
        )
        for t in times
    ]
    # The bucket edges (start + k * width) and either side of them, the range's ends, and
    # fractions of a second that SQLite's time functions round up to the next second.
    edges = [999, 1000, 2_000_999, 2_001_000, 2_001_001, 500_000_000, 500_000_001]
    edges += [1_999_999, 3_999_500, 3_999_501, 5_999_999]
    rows += [(entries.micros_text(base + t), "c/power", b"100", 0, 0) for t in edges]
    entries.append(store, rows)
    store.commit()
    low, high = 1, reader.last_seq(store)
    start, end = base + 1000, base + 500_000_000
    live = entries.bucketed_sums(
        store,
        topics[:2],
        first=low,
        slices=1,
        step=high,
        size=high,
        start_us=start,
        end_us=end,
        width_us=width,
        ceiling=1e9,
    )
    store.rollback()
    expected = {(t, i): (n, peak) for t, i, _, n, peak in live}
    totals = {(t, i): total for t, i, total, _, _ in live}
    while project_pass(store).entries:
        pass
    seal_before(store, base + 86_400_000_000)
    assert store.query_one("SELECT COUNT(*) FROM journal") == (0,)
    store.rollback()
    with store.snapshot():
        got = sealed.sealed_buckets(
            store,
            ["c"],
            topics[:2],
            low=low,
            high=high,
            start_us=start,
            end_us=end,
            width_us=width,
            ceiling=1e9,
        )
    flat = {(t, i): sums for t, by_index in got.items() for i, sums in by_index.items()}
    assert {k: (n, peak) for k, (_, n, peak) in flat.items()} == expected
    assert {k: total for k, (total, _, _) in flat.items()} == pytest.approx(totals, rel=1e-12)


def test_the_clock_flag_is_said_in_words() -> None:
    from webapp.formatting import flag_detail

    assert flag_detail("clock_jump", 3600) == "clock back 1 h 00 min"
    assert flag_detail("clock_jump", 30) == "clock back 30 s"
