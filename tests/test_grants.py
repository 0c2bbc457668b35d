"""The README's least-privilege grants are enough: the recorder needs INSERT on `journal` (and
SELECT on `schema_version` for its start-up check, SELECT and UPDATE on `journal_head` for its
positions), nothing else; the web page needs SELECT on the tables the README lists, nothing
else."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import mysql.connector
import pytest

from journal import entries
from journal.migrate import migrate
from journal.spool import Spool
from journal.storage import StorageError, open_store, parse_database_url
from journal.writer import JournalWriter
from tests.services import mysql_database


def test_recorder_works_with_insert_only_grants(tmp_path: Path) -> None:
    with mysql_database() as admin_url:
        with open_store(admin_url) as admin:
            migrate(admin)
        target = parse_database_url(admin_url)
        user, password = f"rec_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
        conn = mysql.connector.connect(**target.connect_args(with_database=False))
        cursor = conn.cursor()
        try:
            # The exact statements the README gives.
            cursor.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
            cursor.execute(f"GRANT INSERT ON `{target.database}`.journal TO '{user}'@'%'")
            cursor.execute(f"GRANT SELECT ON `{target.database}`.schema_version TO '{user}'@'%'")
            cursor.execute(
                f"GRANT SELECT, UPDATE ON `{target.database}`.journal_head TO '{user}'@'%'"
            )
            url = f"mysql://{user}:{password}@{target.host}:{target.port}/{target.database}"
            writer = JournalWriter(
                lambda: open_store(url, read_timeout=5),
                Spool(tmp_path / "recorder.spool"),
                auto_migrate=False,
            )
            writer.start()
            assert writer.database_up
            writer.write([("2026-01-01 00:00:00.000000", "openevse/state", b"3", 1, 0)])
            assert writer.committed == 1 and writer.spooled == 0
            writer.close()
            with open_store(url) as limited, pytest.raises(StorageError):
                limited.query("SELECT COUNT(*) FROM journal")  # it cannot read the journal back
            with open_store(admin_url) as admin:
                assert [e.payload for e in entries.iter_all(admin)] == [b"3"]
        finally:
            cursor.execute(f"DROP USER IF EXISTS '{user}'@'%'")
            conn.close()


# The README's SELECT grants for the web page's account (section "The web page").
WEB_TABLES = (
    "journal",
    "plugin_session",
    "energySession",
    "recorder_gap",
    "projection_checkpoint",
    "schema_version",
    "session_meter",
    "session_rfid",
    "meter_ledger",
    "cycle_cost",
    "session_cost",
    "tariff",
    "tariff_band",
    "payment",
    "broker_session_lost",
    "journal_segment",
    "journal_seal_run",
)


def test_web_pages_work_with_select_only_grants() -> None:
    """Every page and export, the balance and the statements included, served by an account
    with exactly the README's SELECT grants; the account cannot write."""
    from tests.test_web_money import build
    from tests.web_site import web_config
    from webapp import create_app

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    paragraph = readme[readme.index("`deploy/chargelog-web.service` runs it") :]
    paragraph = paragraph[: paragraph.index("\n\n")]
    assert sorted(re.findall(r"`(\w+)`", paragraph)) == sorted(WEB_TABLES)
    with mysql_database() as admin_url:
        with open_store(admin_url) as admin:
            migrate(admin)
            build(admin)
        target = parse_database_url(admin_url)
        user, password = f"web_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
        conn = mysql.connector.connect(**target.connect_args(with_database=False))
        cursor = conn.cursor()
        try:
            cursor.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
            for table in WEB_TABLES:
                cursor.execute(f"GRANT SELECT ON `{target.database}`.{table} TO '{user}'@'%'")
            url = f"mysql://{user}:{password}@{target.host}:{target.port}/{target.database}"
            client = create_app(web_config(url), {"TESTING": True}).test_client()
            sessions = client.get("/api/sessions").json
            assert len(sessions) == 4
            for path in (
                "/",
                f"/sessions/{sessions[0]['id']}",
                "/health",
                "/sessions.csv",
                "/api/totals",
                "/api/totals/monthly",
                "/balance",
                "/api/balance",
                "/statements",
                "/statements/2026-01",
                "/statements/2026-01.csv",
            ):
                assert client.get(path).status_code == 200, path
            assert client.get("/api/balance").json["due"] == {"CHF": "2.16", "EUR": "5.76"}
            with open_store(url) as limited, pytest.raises(StorageError):
                limited.execute("DELETE FROM payment")
        finally:
            cursor.execute(f"DROP USER IF EXISTS '{user}'@'%'")
            conn.close()


def test_broker_session_watch_works_with_the_readme_grants() -> None:
    """The README's recorder grants for `broker_session` and `broker_session_lost`, run as they
    are: the watch reads and updates its record and records a loss, and cannot read the losses."""
    import time

    from journal.broker_session_watch import BrokerSessionWatch

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme[readme.index("### Database grants") :]
    grants = re.findall(r"^GRANT .*broker_session.*;$", section[: section.index("```\n\n")], re.M)
    assert len(grants) == 2, grants
    with mysql_database() as admin_url:
        with open_store(admin_url) as admin:
            migrate(admin)
        target = parse_database_url(admin_url)
        user, password = f"rec_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
        conn = mysql.connector.connect(**target.connect_args(with_database=False))
        cursor = conn.cursor()
        try:
            cursor.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
            for grant in grants:
                cursor.execute(
                    grant.replace("chargelog.", f"`{target.database}`.").replace(
                        "'chargelog_rec'@'localhost'", f"'{user}'@'%'"
                    )
                )
            url = f"mysql://{user}:{password}@{target.host}:{target.port}/{target.database}"
            watch = BrokerSessionWatch("rec-grants", "test:1883", lambda: open_store(url))
            watch.start()
            watch.connected(False)  # the first session: SELECT, then INSERT
            watch.disconnected()  # UPDATE
            watch.connected(False)  # the broker lost it: INSERT into broker_session_lost
            watch.close()
            with open_store(admin_url) as admin:
                deadline = time.monotonic() + 10
                while not admin.query("SELECT since FROM broker_session_lost"):
                    assert time.monotonic() < deadline, "no loss recorded"
                    time.sleep(0.05)
                    admin.rollback()
            with open_store(url) as limited, pytest.raises(StorageError):
                limited.query("SELECT * FROM broker_session_lost")
        finally:
            cursor.execute(f"DROP USER IF EXISTS '{user}'@'%'")
            conn.close()
