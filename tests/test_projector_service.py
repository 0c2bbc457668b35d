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

from journal.entries import micros_text
from journal.reader import last_seq
from journal.storage import Store
from projector.runner import LIVE
from projector.tables import read_checkpoint
from tests.charge_script import Script
from tests.services import make_schema_newer
from tests.test_projection_store import journal
from tests.test_seal_commands import DAY_US, counts, flip, journal_rows, today_us, traffic


@contextmanager
def projector(
    db_url: str, tmp_path: Path, name: str, database: str = "", more: str = ""
) -> Iterator[subprocess.Popen[str]]:
    config = tmp_path / f"{name}.ini"
    config.write_text(f"[database]\nurl = {db_url}\n{database}[projector]\ninterval = 0.5\n{more}")
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


def _projected(store: Store) -> tuple[int, int]:
    """(plug-in sessions, checkpoint rows): what a pass would have written."""
    row = store.query_one(
        "SELECT (SELECT COUNT(*) FROM plugin_session), (SELECT COUNT(*) FROM projection_checkpoint)"
    )
    store.rollback()
    assert row is not None
    return int(row[0]), int(row[1])


def _refusal(process: subprocess.Popen[str]) -> str:
    """The service ends by itself, non-zero, with one line and no traceback."""
    _, err = process.communicate(timeout=20)
    assert process.returncode == 1, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("chargelog:")]
    assert len(lines) == 1, err
    return lines[0]


def test_service_facing_a_newer_schema_exits_without_writing(
    db_url: str, store: Store, tmp_path: Path
) -> None:
    s = Script()
    s.idle(1, 1).plug().state(3).charge(10).state(2).unplug()
    journal(store, s.messages)
    make_schema_newer(store)
    with projector(db_url, tmp_path, "newer") as process:
        line = _refusal(process)
    assert "version 9999" in line and "upgrade chargelog" in line
    assert _projected(store) == (0, 0)


def test_service_stops_when_a_newer_chargelog_migrates_under_it(
    db_url: str, store: Store, tmp_path: Path
) -> None:
    """Connected and projecting, then the schema moves on: the next pass refuses before it writes,
    even though the connection (and its start-up check) is long established."""
    s = Script()
    s.idle(1, 1).plug().state(3).charge(10).state(2).unplug()
    first = len(s.messages)
    s.idle(1, 1).plug().state(3).charge(10).state(2).unplug()
    journal(store, s.messages[:first])
    with projector(db_url, tmp_path, "moved") as process:
        wait_until(lambda: sessions(store) == 1)
        make_schema_newer(store)
        journal(store, s.messages[first:])
        line = _refusal(process)
    assert "version 9999" in line
    assert sessions(store) == 1  # the second plug-in was never written


def test_service_on_an_unmigrated_database_without_auto_migrate_exits(
    db_url: str, tmp_path: Path
) -> None:
    with projector(db_url, tmp_path, "manual", database="auto_migrate = false\n") as process:
        line = _refusal(process)
    assert "chargelog migrate" in line


# ---- the daily seal ---------------------------------------------------------------------------


def projected_all(store: Store) -> bool:
    """The checkpoint has reached the newest journal position."""
    checkpoint = read_checkpoint(store, LIVE)
    newest = last_seq(store)
    store.rollback()
    return checkpoint is not None and checkpoint.position == newest


SEAL_DAILY = "[journal]\nseal_after_days = 2\n"


def test_service_seals_once_a_day_and_not_twice(db_url: str, store: Store, tmp_path: Path) -> None:
    journal_rows(store, traffic(today_us() - 10 * DAY_US))
    with projector(db_url, tmp_path, "daily", more=SEAL_DAILY) as process:
        wait_until(lambda: counts(store) == (0, 2, 1))  # the first pass, then the seal
        journal_rows(store, traffic(today_us() - 5 * DAY_US))  # due as well, but sealed today
        wait_until(lambda: projected_all(store))
        time.sleep(2)  # four more passes
        assert counts(store) == (40, 2, 1)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=10)
    assert err.count("daily seal: sealed 40 message(s) of 1 day(s) into 2 segment(s)") == 1, err

    # A restart knows today's seal from journal_seal_run, not from its memory.
    with projector(db_url, tmp_path, "restarted", more=SEAL_DAILY) as process:
        journal_rows(store, traffic(today_us() + 60_000_000, count=10))
        wait_until(lambda: projected_all(store))
        time.sleep(1.5)
        assert counts(store) == (50, 2, 1)
        # A day later (the last run moved 25 h back): the next pass seals what became due.
        a_day_ago = int(time.time() * 1_000_000) - 25 * 3600 * 1_000_000
        store.execute("UPDATE journal_seal_run SET finished_at = ?", (micros_text(a_day_ago),))
        store.commit()
        wait_until(lambda: counts(store) == (10, 4, 2))
        time.sleep(1.5)
        assert counts(store) == (10, 4, 2)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=10)
    assert err.count("daily seal: ") == 1, err


def test_service_with_sealing_off_never_seals(db_url: str, store: Store, tmp_path: Path) -> None:
    journal_rows(store, traffic(today_us() - 10 * DAY_US))
    off = "[journal]\nseal_after_days = 0\n"
    with projector(db_url, tmp_path, "off", more=off) as process:
        wait_until(lambda: projected_all(store))
        time.sleep(1.5)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert counts(store) == (40, 0, 0) and "seal" not in err


def refuse_deletes(store: Store) -> None:
    """A journal whose rows cannot be deleted: every seal fails, in the database, as a missing
    DELETE privilege would make it."""
    if store.dialect == "mysql":
        store.execute(
            "CREATE TRIGGER journal_keep BEFORE DELETE ON journal FOR EACH ROW "
            "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'deletes refused'"
        )
    else:
        store.execute(
            "CREATE TRIGGER journal_keep BEFORE DELETE ON journal "
            "BEGIN SELECT RAISE(ABORT, 'deletes refused'); END"
        )
    store.commit()


def test_a_failed_seal_is_logged_once_and_projection_goes_on(
    db_url: str, store: Store, tmp_path: Path
) -> None:
    refuse_deletes(store)
    s = Script(t=float(today_us() // 1_000_000 - 10 * 86400))
    s.idle(1, 1).plug().state(3).charge(10).state(2).unplug()
    journal(store, s.messages)
    with projector(db_url, tmp_path, "failing", more=SEAL_DAILY) as process:
        wait_until(lambda: sessions(store) == 1)
        later = Script(t=time.time() - 3600)
        later.idle(1, 1).plug().state(3).charge(10).state(2).unplug()
        journal(store, later.messages)
        wait_until(lambda: sessions(store) == 2)
        time.sleep(1.5)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    failures = [line for line in err.splitlines() if "sealing failed" in line]
    assert len(failures) == 1, err
    assert "ERROR" in failures[0] and "deletes refused" in failures[0]
    assert "next attempt in 24 h" in failures[0] and "Traceback" not in err
    live, sealed, runs = counts(store)
    assert (sealed, runs) == (0, 0) and live == len(s.messages) + len(later.messages)


def test_service_meeting_a_damaged_segment_stops_with_its_line(
    db_url: str, store: Store, tmp_path: Path
) -> None:
    """A rebuild cannot go past a damaged segment: the service stops, naming it, and writes no
    projection from it."""
    from journal import sealing, segments

    s = Script(t=float(today_us() // 1_000_000 - 10 * 86400))
    s.idle(1, 1).plug().state(3).charge(10).state(2).unplug()
    journal(store, s.messages)
    with projector(db_url, tmp_path, "sealer", more=SEAL_DAILY) as process:
        wait_until(lambda: counts(store)[1:] == (1, 1))
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)
    [info] = segments.every(store)
    store.rollback()
    assert sealing.last_run(store) is not None
    store.rollback()
    flip(store, info, "block", 20)
    store.execute("UPDATE projection_checkpoint SET projector_version = 0")
    store.commit()
    with projector(db_url, tmp_path, "damaged", more=SEAL_DAILY) as process:
        line = _refusal(process)
    assert line.startswith(f"chargelog: journal segment {info.id} ({info.group}, {info.day})")
    assert "is damaged" in line
