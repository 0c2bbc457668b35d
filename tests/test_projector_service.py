"""`chargelog projector`: the scheduled service projects as the journal grows, never runs twice at
once across processes, rebuilds after a logic upgrade, and stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from journal.storage import Store
from tests.charge_script import Script
from tests.test_projection_store import journal


@contextmanager
def projector(db_url: str, tmp_path: Path, name: str) -> Iterator[subprocess.Popen[str]]:
    config = tmp_path / f"{name}.ini"
    config.write_text(f"[database]\nurl = {db_url}\n[projector]\ninterval = 0.5\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "chargelog.cli", "--config", str(config), "projector"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()  # reap it and close its pipes


def wait_until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def sessions(store: Store) -> int:
    row = store.query_one("SELECT COUNT(*) FROM plugin_session")
    store.rollback()
    return int(row[0]) if row else 0


def test_service_projects_as_the_journal_grows_and_stops_on_sigterm(
    db_url: str, store: Store, tmp_path: Path
) -> None:
    s = Script()
    s.idle(1, 1).plug().state(3).charge(10).state(2).unplug()
    first = len(s.messages)
    s.idle(1, 1).plug().state(3).charge(10).state(2).unplug()
    journal(store, s.messages[:first])
    with projector(db_url, tmp_path, "one") as process:
        wait_until(lambda: sessions(store) == 1)
        journal(store, s.messages[first:])
        wait_until(lambda: sessions(store) == 2)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=10)
        assert process.returncode == 0, err
        assert "projector stopped" in err


def test_a_second_projector_waits_for_the_lock(db_url: str, store: Store, tmp_path: Path) -> None:
    with open_lock(db_url), projector(db_url, tmp_path, "two") as process:
        s = Script()
        s.idle(1, 1).plug().state(3).charge(5)
        journal(store, s.messages)
        time.sleep(2)
        assert sessions(store) == 0  # the lock holder is "projecting": this one keeps out
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=10)
        assert "another projector holds the lock" in err


@contextmanager
def open_lock(db_url: str) -> Iterator[None]:
    from journal.storage import open_store

    with open_store(db_url) as holder:
        assert holder.try_lock("projector", 0)
        try:
            yield
        finally:
            holder.unlock("projector")


def test_service_rebuilds_after_a_logic_upgrade(db_url: str, store: Store, tmp_path: Path) -> None:
    s = Script()
    s.idle(1, 1).plug().state(3).charge(10).state(2).unplug()
    journal(store, s.messages)
    with projector(db_url, tmp_path, "three") as process:
        wait_until(lambda: sessions(store) == 1)
        store.execute("UPDATE projection_checkpoint SET projector_version = 0")
        store.execute("UPDATE plugin_session SET energy_wh = 1")
        store.commit()
        wait_until(
            lambda: (
                store.query_one("SELECT energy_wh FROM plugin_session") == (1200.0,)
                or store.rollback()
            )
        )
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=10)
        assert "rebuilding the projection" in err
