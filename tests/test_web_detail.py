"""Session detail `/sessions/<id>` (issue 4): power and energy from the journal, downsampled on
the server; counters and end reason of each cycle; every flag explained; 404 for unknown ids."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import pytest
from flask.testing import FlaskClient

from projector.records import FLAG_TEXT
from tests.web_site import EVIL, LEGACY
from webapp import series
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
