"""The projector lock (projector/catchup.py) as the commands that write the projection see it:
while another process holds it, `chargelog project` and `chargelog import-legacy` say so in one
line, exit 1 and write nothing; once it is free they run."""

from __future__ import annotations

from pathlib import Path

from journal.storage import Store
from tests.charge_script import Script
from tests.test_legacy_import import legacy_rows, original_database
from tests.test_projection_store import journal
from tests.test_projector_service import open_lock, sessions
from tests.test_sessions_command import chargelog


def test_project_refuses_while_the_lock_is_held(db_url: str, store: Store, tmp_path: Path) -> None:
    s = Script()
    s.idle(1, 1).plug().state(3).charge(10).state(2).unplug()
    journal(store, s.messages)
    with open_lock(db_url):
        refused = chargelog(db_url, tmp_path, "project", "--wait", "0")
    assert refused.returncode == 1
    assert refused.stderr == "chargelog: another projector held the lock for 0 s\n"
    assert refused.stdout == "" and sessions(store) == 0
    done = chargelog(db_url, tmp_path, "project", "--wait", "0")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("projected ") and sessions(store) == 1


def test_import_legacy_refuses_while_the_lock_is_held(
    db_url: str, store: Store, tmp_path: Path
) -> None:
    with original_database() as (url, _, _), open_lock(db_url):
        refused = chargelog(db_url, tmp_path, "import-legacy", url, "--wait", "0")
    assert refused.returncode == 1
    assert refused.stderr == "chargelog import-legacy: another projector held the lock for 0 s\n"
    assert all(rows == [] for rows in legacy_rows(store).values())
