"""The one flags rule of the sessions read model (projector.sessions): a damaged flags value (not
JSON, or JSON that is not an object) reads as no flags in every view, the CLI, /api/sessions, the
CSVs and the pages, with a warning naming the row, never an error; other rows keep theirs."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from journal.storage import Store
from tests.charge_script import Script
from tests.test_projection_store import journal
from tests.test_sessions_command import chargelog
from tests.web_site import web_config
from webapp import create_app


@pytest.fixture
def damaged(db_url: str, store: Store, tmp_path: Path) -> tuple[int, int, int]:
    """Two sessions projected; the first's flags and its first cycle's damaged, the second's
    set to a valid object. Returns (damaged session, its damaged cycle, the intact session)."""
    a = Script(firmware="5.x", charger="openevse-aaaa")
    a.idle(1, 1).plug().state(3).charge(30).state(2).unplug()
    a.wait(3600).plug().state(3).charge(10).state(2).unplug()
    journal(store, a.messages)
    result = chargelog(db_url, tmp_path, "project")
    assert result.returncode == 0, result.stderr
    (bad, good) = [int(r[0]) for r in store.query("SELECT id FROM plugin_session ORDER BY id")]
    cycle = int(store.query("SELECT MIN(id) FROM energySession WHERE plugin_id = ?", (bad,))[0][0])
    store.execute("UPDATE plugin_session SET flags = ? WHERE id = ?", ('{"gap": 3', bad))
    store.execute("UPDATE energySession SET flags = ? WHERE id = ?", ("[1, 2]", cycle))
    store.execute("UPDATE plugin_session SET flags = ? WHERE id = ?", ('{"reboot":1}', good))
    store.commit()
    return bad, cycle, good


def test_cli_and_api_show_no_flags_for_a_damaged_row(
    db_url: str, tmp_path: Path, damaged: tuple[int, int, int]
) -> None:
    bad, cycle, good = damaged
    result = chargelog(db_url, tmp_path, "sessions", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert f"plugin_session {bad}: flags" in result.stderr
    assert f"energySession {cycle}: flags" in result.stderr
    sessions = {s["id"]: s for s in json.loads(result.stdout)}
    assert (sessions[bad]["flags"], sessions[bad]["flag_details"]) == ([], {})
    assert sessions[bad]["cycles"][0]["flags"] == []
    assert sessions[bad]["cycles"][0]["flag_details"] == {}
    assert (sessions[good]["flags"], sessions[good]["flag_details"]) == (["reboot"], {"reboot": 1})

    client = create_app(web_config(db_url), {"TESTING": True}).test_client()
    api = client.get("/api/sessions")
    assert api.status_code == 200
    assert api.text == result.stdout  # the contract: the CLI's JSON, byte for byte

    for args in (("--format", "csv"), ("--format", "table")):
        listed = chargelog(db_url, tmp_path, "sessions", *args)
        assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
    rows = csv.DictReader(
        io.StringIO(chargelog(db_url, tmp_path, "sessions", "--format", "csv").stdout)
    )
    assert {int(r["id"]): r["flags"] for r in rows} == {bad: "", good: "reboot"}


def test_pages_and_export_show_no_flags_for_a_damaged_row(
    db_url: str, damaged: tuple[int, int, int], caplog: pytest.LogCaptureFixture
) -> None:
    bad, cycle, good = damaged
    client = create_app(web_config(db_url), {"TESTING": True}).test_client()
    exported = client.get("/sessions.csv")
    assert exported.status_code == 200
    rows = csv.DictReader(io.StringIO(exported.text))
    assert {int(r["id"]): r["flags"] for r in rows} == {bad: "", good: "reboot"}
    detail = client.get(f"/sessions/{bad}")
    assert detail.status_code == 200
    assert 'class="flag"' not in detail.text  # no badge: neither the session nor its cycle
    assert 'class="flag"' in client.get(f"/sessions/{good}").text
    assert client.get("/").status_code == 200
    warned = [r.getMessage() for r in caplog.records if r.name == "projector.sessions"]
    assert f"plugin_session {bad}: flags '{{\"gap\": 3' are not a JSON object: shown as none" in (
        warned
    )
    assert any(m.startswith(f"energySession {cycle}: flags") for m in warned)
