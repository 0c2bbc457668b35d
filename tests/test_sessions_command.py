"""`chargelog project` and `chargelog sessions`: the JSON contract outside scripts rely on."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from journal.storage import Store
from tests.charge_script import Script
from tests.test_projection_store import journal

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def chargelog(
    db_url: str,
    tmp_path: Path,
    *args: str,
    tz: str = "Europe/Paris",
    more_config: str = "",
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """`chargelog` as a user runs it, with a config naming the database and the zone (plus
    `more_config` INI lines) and the environment plus `env`."""
    config = tmp_path / "c.ini"
    config.write_text(f"[database]\nurl = {db_url}\n[site]\ntimezone = {tz}\n{more_config}")
    return subprocess.run(
        [sys.executable, "-m", "chargelog.cli", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def projected(db_url: str, store: Store, tmp_path: Path) -> str:
    a = Script(firmware="5.x", charger="openevse-aaaa")  # 2026-01-01 10:00 UTC
    a.idle(1, 1).plug().state(3).charge(30).state(254).idle(5, 254).state(3).charge(15)
    a.state(2).unplug()
    a.wait(2 * 86400).plug().state(3).charge(10)  # still charging at the end
    b = Script(firmware="2.x", charger="openevse", t=a.messages[0][0] + 3600)
    b.idle(1, 1).plug().idle(10, 2).unplug()  # plugged, never charged
    journal(store, sorted(a.messages + b.messages, key=lambda m: m[0]))
    result = chargelog(db_url, tmp_path, "project")
    assert result.returncode == 0, result.stderr
    assert "projected" in result.stdout
    return db_url


def test_json_contract(projected: str, tmp_path: Path) -> None:
    result = chargelog(projected, tmp_path, "sessions", "--format", "json")
    assert result.returncode == 0, result.stderr
    sessions = json.loads(result.stdout)
    assert [s["charger"] for s in sessions] == ["openevse-aaaa", "openevse", "openevse-aaaa"]
    for s in sessions:
        assert {
            "charger",
            "plugged_at",
            "unplugged_at",
            "energy_wh",
            "charging_s",
            "flags",
            "cycles",
        } <= s.keys()
        assert ISO_Z.match(s["plugged_at"])
        assert isinstance(s["flags"], list)
        for c in s["cycles"]:
            assert {"started_at", "ended_at", "energy_wh", "end_reason"} <= c.keys()
    first, idle, live = sessions
    assert first["energy_wh"] == 5400.0
    assert [(c["energy_wh"], c["end_reason"]) for c in first["cycles"]] == [
        (3600.0, "paused"),
        (1800.0, "stopped"),
    ]
    assert (
        ISO_Z.match(first["unplugged_at"]) and first["charging_s"] == 45 * 60 + 2
    )  # each state change takes 1 s in the script
    assert idle["energy_wh"] == 0 and idle["cycles"] == []
    assert live["unplugged_at"] is None
    assert live["cycles"][0]["ended_at"] is None and live["cycles"][0]["end_reason"] is None
    assert live["energy_wh"] == 1200.0


@pytest.mark.parametrize(
    ("args", "chargers"),
    [
        (("--charger", "openevse"), ["openevse"]),
        (("--from", "2026-01-03"), ["openevse-aaaa"]),
        (("--to", "2026-01-01"), ["openevse-aaaa", "openevse"]),
        (("--from", "2026-01-02", "--to", "2026-01-02"), []),
        (("--charger", "nope"), []),
    ],
)
def test_filters(
    projected: str, tmp_path: Path, args: tuple[str, ...], chargers: list[str]
) -> None:
    result = chargelog(projected, tmp_path, "sessions", "--format", "json", *args)
    assert result.returncode == 0, result.stderr
    assert [s["charger"] for s in json.loads(result.stdout)] == chargers


def test_csv_and_table(projected: str, tmp_path: Path) -> None:
    rows = list(
        csv.DictReader(
            io.StringIO(chargelog(projected, tmp_path, "sessions", "--format", "csv").stdout)
        )
    )
    assert [r["energy_kwh"] for r in rows] == ["5.400", "0.000", "1.200"]
    table = chargelog(projected, tmp_path, "sessions").stdout
    assert "total" in table and "6.6" in table
    # plugged at 10:01 UTC = 11:01 in Paris
    assert "2026-01-01 11:01" in table


def test_rebuild_dry_run_prints_the_difference(projected: str, tmp_path: Path) -> None:
    result = chargelog(projected, tmp_path, "project", "--rebuild", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "would change: sessions: 0 added, 0 removed, 0 changed" in result.stdout
    assert "+0.000 kWh" in result.stdout


def test_bad_date_is_a_usage_error(projected: str, tmp_path: Path) -> None:
    result = chargelog(projected, tmp_path, "sessions", "--from", "yesterday")
    assert result.returncode == 2 and "is not a date" in result.stderr
