"""`chargelog import-legacy` (issue 5) against a real MariaDB database built with the original
openevse-mqtt-mysql logger's exact schema and trigger, into both backends, through the real CLI."""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Context, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import mysql.connector
import pytest

from journal.storage import StorageError, Store, open_store, parse_database_url
from projector.legacy import importer as legacy_import
from projector.legacy.importer import ImportOptions, import_legacy
from projector.legacy.projection import LEGACY_ID_BASE
from projector.legacy.source import parse_legacy_url, read_legacy
from projector.money.tariffs import display_amount
from tests.charge_script import Script
from tests.services import free_port, mysql_database
from tests.test_projection_store import journal
from tests.test_sessions_command import chargelog
from tests.web_site import web_config
from webapp import create_app

PARIS = ZoneInfo("Europe/Paris")

# The original logger's database, exactly (docs/openevse-mqtt.md).
ORIGINAL_SCHEMA = (
    "CREATE TABLE energySession (id INT AUTO_INCREMENT PRIMARY KEY, tstamp INT UNSIGNED, "
    "value INT UNSIGNED, sdur INT UNSIGNED, carid TINYINT UNSIGNED, "
    "status TINYINT NULL DEFAULT 0, tarifid INT DEFAULT 0)",
    "CREATE TABLE tarif (id INT AUTO_INCREMENT PRIMARY KEY, dateA INT UNSIGNED, "
    "value DECIMAL(5,4), status TINYINT NULL DEFAULT 0)",
    "CREATE TABLE versement (id INT AUTO_INCREMENT PRIMARY KEY, dateV INT UNSIGNED, "
    "dateE INT UNSIGNED, value DECIMAL(5,2), carid TINYINT UNSIGNED, "
    "status TINYINT NULL DEFAULT 0)",
    # tarifid left 0 -> the newest active tarif (0 while there is none)
    "CREATE TRIGGER energySession_tarif BEFORE INSERT ON energySession FOR EACH ROW "
    "BEGIN IF NEW.tarifid = 0 THEN SET NEW.tarifid = COALESCE((SELECT id FROM tarif "
    "WHERE status = 1 ORDER BY dateA DESC, id DESC LIMIT 1), 0); END IF; END",
)


def local(*parts: int) -> int:
    """Unix seconds of a Paris wall-clock time."""
    return int(datetime(*parts, tzinfo=PARIS).timestamp())


@dataclass(frozen=True)
class Original:
    """An energySession row as inserted, and the price the original logger charged it at."""

    tstamp: int
    sdur: int
    value: int
    carid: int
    tarifid: int  # as inserted (0 = let the trigger choose)
    price: Decimal  # what its cost must be computed with


P1, P2 = Decimal("0.1500"), Decimal("0.2100")
SESSIONS = [
    # before any tarif was active: stays 0, priced by the tarif in force then (#1)
    Original(local(2025, 3, 10, 22, 0), 7200, 36_000_000, 1, 0, P1),
    # tarif #1 active: the trigger fills 1
    Original(local(2025, 3, 12, 7, 30), 10800, 25_912_345, 1, 0, P1),
    Original(local(2025, 4, 2, 19, 45), 5400, 19_800_000, 2, 0, P1),
    # tarif #2 active from June
    Original(local(2025, 6, 20, 23, 15), 9000, 40_000_001, 1, 0, P2),
    # names a tarif that does not exist: priced by the one in force (#2)
    Original(local(2025, 6, 15, 12, 0), 3600, 7_200_000, 1, 99, P2),
    # names #1 although #2 was in force: the original charged #1's price, so do we
    Original(local(2025, 7, 1, 8, 0), 1800, 3_333_333, 1, 1, P1),
]
EXACT = Context(prec=80)


def expected_cost(session: Original) -> Decimal:
    """Ws / 3.6e6 x price, exactly (to cycle_cost's 12 places when it does not terminate)."""
    exact = EXACT.divide(EXACT.multiply(Decimal(session.value), session.price), Decimal(3_600_000))
    return exact.quantize(Decimal("1e-12"), rounding=ROUND_HALF_UP)


@contextmanager
def original_database() -> Iterator[tuple[str, str, str]]:
    """The original logger's database with realistic rows, and a read-only account on it:
    yields (URL with the password, URL without it, the password)."""
    with mysql_database() as url:
        target = parse_database_url(url)
        conn = mysql.connector.connect(**target.connect_args(), autocommit=True)
        cursor = conn.cursor()
        user, password = f"legacy_{uuid.uuid4().hex[:8]}", f"pw-{uuid.uuid4().hex}"
        try:
            for statement in ORIGINAL_SCHEMA:
                cursor.execute(statement)
            _fill(cursor)
            cursor.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
            cursor.execute(f"GRANT SELECT ON `{target.database}`.* TO '{user}'@'%'")
            base = f"{target.host}:{target.port}/{target.database}"
            yield f"mysql://{user}:{password}@{base}", f"mysql://{user}@{base}", password
        finally:
            cursor.execute(f"DROP USER IF EXISTS '{user}'@'%'")
            conn.close()


def _fill(cursor: Any) -> None:
    """Rows in the order the original logger wrote them, so its trigger fills tarifid."""

    def session(s: Original) -> None:
        cursor.execute(
            "INSERT INTO energySession (tstamp, value, sdur, carid, status, tarifid) "
            "VALUES (%s, %s, %s, %s, 0, %s)",
            (s.tstamp, s.value, s.sdur, s.carid, s.tarifid),
        )

    # 2025-01-01 00:00 in Paris is still 2024-12-31 in UTC: valid_from must be the local day
    cursor.execute(
        "INSERT INTO tarif (dateA, value, status) VALUES (%s, %s, 0)", (local(2025, 1, 1), P1)
    )
    session(SESSIONS[0])
    cursor.execute("UPDATE tarif SET status = 1 WHERE id = 1")
    session(SESSIONS[1])
    session(SESSIONS[2])
    cursor.execute(
        "INSERT INTO tarif (dateA, value, status) VALUES (%s, %s, 1)", (local(2025, 6, 1), P2)
    )
    cursor.execute("UPDATE tarif SET status = 0 WHERE id = 1")
    for s in SESSIONS[3:]:
        session(s)
    cursor.execute(
        "INSERT INTO versement (dateV, dateE, value, carid, status) VALUES "
        "(%s, %s, 40.00, 1, 0), (%s, NULL, 25.50, 1, 0)",
        (local(2025, 2, 1, 0, 30), local(2025, 1, 31, 12, 0), local(2025, 7, 5, 10, 0)),
    )


def run(
    db_url: str, tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """`chargelog` as a user runs it, with a config naming the database and the Paris zone."""
    return chargelog(db_url, tmp_path, *args, env=env)


def ok(db_url: str, tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> str:
    result = run(db_url, tmp_path, *args, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def iso(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def legacy_rows(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Everything the legacy import owns or materialized, exactly as stored."""
    found = {
        "cycles": store.query(
            "SELECT * FROM energySession WHERE id >= ? ORDER BY id", (LEGACY_ID_BASE,)
        ),
        "plugins": store.query(
            "SELECT * FROM plugin_session WHERE id >= ? ORDER BY id", (LEGACY_ID_BASE,)
        ),
        "costs": store.query(
            "SELECT * FROM cycle_cost WHERE cycle_id >= ? ORDER BY cycle_id, tariff_id, band",
            (LEGACY_ID_BASE,),
        ),
        "tariffs": store.query("SELECT id, valid_from, price_per_kwh, note FROM tariff"),
        "payments": store.query("SELECT id, paid_on, amount, note FROM payment"),
        "legacy": store.query("SELECT * FROM legacy_session ORDER BY id"),
    }
    store.rollback()
    return found


FIRST_RUN = (
    "sessions: 6 added, 0 already there; tariffs: 2 added, 0 already there; "
    "payments: 2 added, 0 already there"
)
SECOND_RUN = (
    "sessions: 0 added, 6 already there; tariffs: 0 added, 2 already there; "
    "payments: 0 added, 2 already there"
)


def test_import_legacy(db_url: str, store: Store, tmp_path: Path) -> None:
    # The journal's own session, projected before the import: both must coexist.
    script = Script(firmware="5.x", charger="openevse-aaaa")  # 2026-01-01 10:00 UTC
    script.idle(1, 1).plug().state(3).charge(30).state(2).unplug()
    journal(store, script.messages)
    ok(db_url, tmp_path, "project")

    with original_database() as (url, url_without_password, password):
        env = {"CHARGELOG_LEGACY_PASSWORD": password}
        out = ok(db_url, tmp_path, "import-legacy", url_without_password, env=env)
        assert FIRST_RUN in out
        assert password not in out
        with open_store(url) as original:
            tarifids = [r[0] for r in original.query("SELECT tarifid FROM energySession")]
        assert tarifids == [0, 1, 1, 2, 99, 1]  # the trigger's work, kept as it was

        sessions = json.loads(ok(db_url, tmp_path, "sessions", "--format", "json"))
        legacy = [s for s in sessions if "legacy" in s["flags"]]
        own = [s for s in sessions if "legacy" not in s["flags"]]
        assert [s["charger"] for s in own] == ["openevse-aaaa"] and own[0]["cycle_count"] == 1
        assert own[0]["id"] < LEGACY_ID_BASE
        assert sorted(s["id"] for s in legacy) == [LEGACY_ID_BASE + i for i in range(1, 7)]
        by_id = {s["id"]: s for s in legacy}
        for number, original_row in enumerate(SESSIONS, start=1):
            got = by_id[LEGACY_ID_BASE + number]
            start, end = original_row.tstamp - original_row.sdur, original_row.tstamp
            assert (got["charger"], got["plugged_at"], got["unplugged_at"]) == (
                "openevse",
                iso(start),
                iso(end),
            )
            assert got["energy_wh"] == round(original_row.value / 3600, 3)
            assert got["charging_s"] == original_row.sdur and got["cycle_count"] == 1
            assert got["flag_details"] == {"legacy": number}
            (cycle,) = got["cycles"]
            assert (cycle["started_at"], cycle["ended_at"], cycle["end_reason"]) == (
                iso(start),
                iso(end),
                "stopped",
            )
            assert got["cost"] == str(display_amount(expected_cost(original_row)))
            assert got["currency"] == "EUR"

        first = legacy_rows(store)
        # the original's columns as it had them, and the exact cost per cycle
        assert [(r[1], r[2], r[3], r[4], r[5], r[6]) for r in first["cycles"]] == [
            (s.tstamp, s.value, s.sdur, s.carid, 0, t)
            for s, t in zip(SESSIONS, tarifids, strict=True)
        ]
        cost_of: dict[int, Decimal] = {}
        for cycle_id, _, _, _, currency, _, cost in first["costs"]:
            assert currency == "EUR"
            cost_of[int(cycle_id)] = cost_of.get(int(cycle_id), Decimal(0)) + Decimal(str(cost))
        assert cost_of == {
            LEGACY_ID_BASE + n: expected_cost(s) for n, s in enumerate(SESSIONS, start=1)
        }
        assert cost_of[LEGACY_ID_BASE + 1] == Decimal("1.5")  # 10 kWh at 0.15, exactly
        assert cost_of[LEGACY_ID_BASE + 6] == expected_cost(SESSIONS[5])  # #1's price in July

        tariffs = ok(db_url, tmp_path, "tariff", "list").splitlines()
        assert [line.split() for line in tariffs[1:]] == [
            ["1", "2025-01-01", "0.1500", "EUR/kWh", "(all)", "legacy", "tarif", "#1"],
            ["2", "2025-06-01", "0.2100", "EUR/kWh", "(all)", "legacy", "tarif", "#2"],
        ]
        payments = ok(db_url, tmp_path, "payment", "list").splitlines()
        assert [line.split() for line in payments[1:]] == [
            ["1", "2025-02-01", "40.00", "EUR", "legacy", "versement", "#1", "(dateE",
             "2025-01-31,", "carid", "1)"],
            ["2", "2025-07-05", "25.50", "EUR", "legacy", "versement", "#2", "(dateE", "none,",
             "carid", "1)"],
            ["total", "65.50", "EUR"],
        ]  # fmt: skip

        # Twice: nothing added, nothing changed (this time with the password in the URL).
        out = ok(db_url, tmp_path, "import-legacy", url)
        assert SECOND_RUN in out
        assert password not in out
        assert legacy_rows(store) == first

    # A rebuild replays the journal and keeps the legacy sessions exactly.
    out = ok(db_url, tmp_path, "project", "--rebuild")
    assert "sessions: 0 added, 0 removed, 0 changed" in out
    assert legacy_rows(store) == first
    after = json.loads(ok(db_url, tmp_path, "sessions", "--format", "json"))
    assert [s["id"] for s in after] == [s["id"] for s in sessions]
    journal_session = next(s for s in after if "legacy" not in s["flags"])
    assert journal_session["cost"] is not None  # re-priced by the imported tariff #2
    assert "projected" in ok(db_url, tmp_path, "project")  # the checkpoint agrees again

    # The pages: a legacy session's detail explains why there is no curve, and shows its cost.
    client = create_app(web_config(db_url), {"TESTING": True}).test_client()
    page = client.get(f"/sessions/{LEGACY_ID_BASE + 1}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Imported from the original logger" in html
    assert re.search(r'id="session-cost">\s*1\.50 EUR', html)
    balance = client.get("/api/balance").get_json()
    assert balance["paid"] == {"EUR": "65.50"}


def test_import_then_first_projection(db_url: str, store: Store, tmp_path: Path) -> None:
    """Importing before anything was projected: the first passes and rebuilds keep them."""
    with original_database() as (url, _, _):
        ok(db_url, tmp_path, "import-legacy", url, "--charger", "garage", "--currency", "chf")
    before = legacy_rows(store)
    assert len(before["plugins"]) == 6 and {r[4] for r in before["costs"]} == {"CHF"}
    script = Script(firmware="5.x", charger="openevse-aaaa")
    script.idle(1, 1).plug().state(3).charge(10).state(2).unplug()
    journal(store, script.messages)
    ok(db_url, tmp_path, "project")
    ok(db_url, tmp_path, "project", "--rebuild")
    assert legacy_rows(store) == before
    out = ok(db_url, tmp_path, "sessions", "--format", "json", "--charger", "garage")
    sessions = json.loads(out)
    assert len(sessions) == 6 and {s["currency"] for s in sessions} == {"CHF"}


def test_failures_are_one_line_and_write_nothing(db_url: str, store: Store, tmp_path: Path) -> None:
    secret = f"s3cret-{uuid.uuid4().hex[:6]}"
    nowhere = f"mysql://someone:{secret}@127.0.0.1:{free_port()}/mqtt"
    unreachable = run(db_url, tmp_path, "import-legacy", nowhere)
    assert unreachable.returncode == 1
    assert unreachable.stderr.count("\n") == 1 and "cannot connect" in unreachable.stderr
    assert secret not in unreachable.stderr + unreachable.stdout

    for url, needle in (
        ("postgres://u:pw@127.0.0.1/mqtt", "is not a MySQL URL"),
        ("mysql://root@127.0.0.1:3306/", "names no database"),
        (f"mysql://u:{secret}@127.0.0.1:notaport/mqtt", "invalid port"),
    ):
        wrong = run(db_url, tmp_path, "import-legacy", url)
        assert wrong.returncode == 2 and needle in wrong.stderr, wrong.stderr
        assert wrong.stderr.count("\n") == 1 and secret not in wrong.stderr

    with mysql_database() as empty:  # a database, but not the original logger's
        missing = run(db_url, tmp_path, "import-legacy", empty)
    assert missing.returncode == 1
    assert "there is no table `energySession`" in missing.stderr
    assert missing.stderr.count("\n") == 1

    nothing = legacy_rows(store)
    assert all(rows == [] for rows in nothing.values()), nothing


def test_a_failure_midway_rolls_everything_back(
    db_url: str, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tariffs and payments are written before the sessions: a failure after them leaves
    nothing (one transaction), and the next run imports everything."""
    with original_database() as (url, _, _):
        data = read_legacy(parse_legacy_url(url))
    options = ImportOptions(source="test", charger="openevse", currency="EUR", zone=PARIS)

    def broken(*args: object) -> int:
        raise StorageError("disk full (injected)")

    monkeypatch.setattr(legacy_import, "write_legacy", broken)
    with pytest.raises(StorageError):
        import_legacy(store, data, options)
    empty = legacy_rows(store)
    assert all(rows == [] for rows in empty.values()), empty
    monkeypatch.undo()
    report = import_legacy(store, data, options)
    assert (report.sessions.added, report.tariffs.added, report.payments.added) == (6, 2, 2)
    assert len(legacy_rows(store)["plugins"]) == 6
