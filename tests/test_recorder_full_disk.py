"""The recorder when nothing can be stored (issue 9): the database away and the spool's disk full,
and a database whose schema is newer than the code. A real `chargelog record` subprocess, a
private Mosquitto, a QoS 1 publisher, MariaDB behind a proxy the test cuts, a 256 KiB tmpfs."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from journal.entries import JournalEntry
from journal.spool import Spool
from journal.storage import Store, parse_database_url
from tests.recorder_support import (
    first_occurrences,
    journal_count,
    numbered,
    publisher,
    read_journal,
    running_recorder,
    sequence_numbers,
    wait_for_journal,
    write_config,
)
from tests.services import FUTURE_VERSION, PrivateBroker, TcpProxy, make_schema_newer

pytestmark = [pytest.mark.mqtt, pytest.mark.slow, pytest.mark.timeout(120)]

PADDING = b" " * 200  # ~280-byte frames: the 256 KiB spool holds ~900 messages


@pytest.fixture
def spool_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs for the spool (we run as root); unmounted whatever happens."""
    mount = tmp_path / "spool-disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


@pytest.fixture
def roomy_broker(tmp_path: Path) -> Iterator[PrivateBroker]:
    """A broker that queues more than its default 1000 messages for a recorder that cannot ack,
    so what is tested is the recorder, not mosquitto's (documented) silent drop."""
    broker = PrivateBroker(tmp_path / "broker", extra="max_queued_messages 100000\n")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def proxied(db_url: str) -> Iterator[tuple[str, TcpProxy]]:
    target = parse_database_url(db_url)
    proxy = TcpProxy(target.port, target.host)
    try:
        url = db_url.replace(f"@{target.host}:{target.port}/", f"@127.0.0.1:{proxy.port}/")
        assert url != db_url
        yield url, proxy
    finally:
        proxy.close()


def recorder_config(
    directory: Path, broker: PrivateBroker, url: str, prefix: str, spool: Path, **extra: object
) -> Path:
    config = write_config(directory, broker_port=broker.port, db_url=url, topics=f"{prefix}/#")
    text = config.read_text(encoding="utf-8")
    text = text.replace(f"spool_path = {directory / 'recorder.spool'}", f"spool_path = {spool}")
    text += "".join(f"{key} = {value}\n" for key, value in extra.items())  # [recorder] is last
    config.write_text(text, encoding="utf-8")
    return config


def has_all(total: int) -> Callable[[list[JournalEntry]], bool]:
    wanted = set(range(total))
    return lambda entries: wanted <= set(sequence_numbers(entries))


def check_exact(store: Store, total: int) -> int:
    """Every number 0..total-1 journaled, first occurrences in publish order; the duplicates."""
    firsts, duplicates = first_occurrences(sequence_numbers(read_journal(store)))
    assert firsts == list(range(total))
    return duplicates


def no_torn_frame(spool: Path) -> int:
    check = Spool(spool).inspect()
    assert check.size == check.good_end, f"{check.size - check.good_end} torn byte(s)"
    assert not check.report.skipped_anything
    return check.frames


@pytest.mark.parametrize("db_url", ["mysql"], indirect=True)
def test_a_full_spool_disk_while_the_database_is_away_loses_nothing(
    store: Store,
    proxied: tuple[str, TcpProxy],
    roomy_broker: PrivateBroker,
    spool_disk: Path,
    topic_prefix: str,
    tmp_path: Path,
) -> None:
    url, proxy = proxied
    spool = spool_disk / "recorder.spool"
    config = recorder_config(tmp_path, roomy_broker, url, topic_prefix, spool)
    topic = f"{topic_prefix}/openevse/seq"
    before, during, after = 50, 2000, 100  # ~900 fit in the spool; the rest wait unacked
    with running_recorder(config) as recorder, publisher(roomy_broker.port) as pub:
        for index in range(before):
            pub.publish(topic, numbered(index) + PADDING)
        wait_for_journal(store, has_all(before), recorder=recorder)
        proxy.cut()
        for index in range(before, before + during):
            pub.publish(topic, numbered(index) + PADDING)
        recorder.wait_for("spool full", timeout=30)
        recorder.wait_for("database unavailable")
        spooled = no_torn_frame(spool)
        assert 500 < spooled < during
        # Blocked: it keeps its session, retries, takes nothing more, logs nothing more.
        time.sleep(3)
        assert recorder.running() and journal_count(store) == before
        assert no_torn_frame(spool) == spooled
        proxy.restore()
        for index in range(before + during, before + during + after):
            pub.publish(topic, numbered(index) + PADDING)
        total = before + during + after
        wait_for_journal(store, has_all(total), timeout=60, recorder=recorder)
        assert recorder.running()
        log = recorder.stderr
    assert "Traceback" not in log, log
    assert recorder.count("spool full") == 1, log
    assert recorder.count("storing messages again") == 1, log
    assert recorder.count("broker connection lost") == 0, log
    assert not spool.exists() or Spool(spool).inspect().frames == 0
    duplicates = check_exact(store, total)
    print(f"full spool disk: {spooled} spooled, {duplicates} duplicate(s)")
    assert duplicates <= 100


@pytest.mark.parametrize("db_url", ["mysql"], indirect=True)
def test_blocked_past_stall_timeout_exits_75_then_a_restart_loses_nothing(
    store: Store,
    proxied: tuple[str, TcpProxy],
    roomy_broker: PrivateBroker,
    spool_disk: Path,
    topic_prefix: str,
    tmp_path: Path,
) -> None:
    url, proxy = proxied
    spool = spool_disk / "recorder.spool"
    config = recorder_config(tmp_path, roomy_broker, url, topic_prefix, spool, stall_timeout=2)
    topic = f"{topic_prefix}/openevse/seq"
    total = 1500
    with publisher(roomy_broker.port) as pub:
        with running_recorder(config) as recorder:
            proxy.cut()
            for index in range(total):
                pub.publish(topic, numbered(index) + PADDING)
            recorder.wait_for("spool full", timeout=30)
            code = recorder.wait(20)
            log = recorder.stderr
        assert code == 75, log
        assert "Traceback" not in log, log
        assert recorder.count("spool full") == 1 and recorder.count("exiting with status 75") == 1
        no_torn_frame(spool)
        proxy.restore()
        with running_recorder(config, subscribed=False) as restarted:
            wait_for_journal(store, has_all(total), timeout=60, recorder=restarted)
            assert "Traceback" not in restarted.stderr
    check_exact(store, total)


def test_a_newer_schema_at_start_is_refused_and_nothing_is_written(
    db_url: str, store: Store, broker: PrivateBroker, topic_prefix: str, tmp_path: Path
) -> None:
    """A spool left by an earlier run must not be drained into a schema this code does not
    know: one line, a non-zero exit, the journal untouched, the spool kept."""
    config = write_config(
        tmp_path, broker_port=broker.port, db_url=db_url, topics=f"{topic_prefix}/#"
    )
    spool = Spool(tmp_path / "recorder.spool")
    spool.append([("2026-01-01 00:00:00.000000", f"{topic_prefix}/a", b"1", 1, 0)] * 5)
    make_schema_newer(store)
    with running_recorder(config, subscribed=False) as recorder:
        code = recorder.wait(20)
        log = recorder.stderr
    assert code != 0
    lines = [line for line in log.splitlines() if line.strip()]
    assert len(lines) == 1 and f"version {FUTURE_VERSION} " in lines[0], log
    assert journal_count(store) == 0
    assert Spool(spool.path).inspect().frames == 5


@pytest.mark.parametrize("db_url", ["mysql"], indirect=True)
def test_a_newer_schema_on_reconnection_stops_without_acking(
    store: Store,
    proxied: tuple[str, TcpProxy],
    broker: PrivateBroker,
    topic_prefix: str,
    tmp_path: Path,
) -> None:
    """A newer chargelog migrated the database while ours was cut off from it: the schema is
    checked again on the reconnection, nothing is written into it (the spool is kept), what
    came since is not acknowledged, and a fixed install then journals all of it."""
    url, proxy = proxied
    config = write_config(tmp_path, broker_port=broker.port, db_url=url, topics=f"{topic_prefix}/#")
    topic = f"{topic_prefix}/openevse/seq"
    with publisher(broker.port) as pub:
        with running_recorder(config) as recorder:
            for index in range(20):
                pub.publish(topic, numbered(index))
            wait_for_journal(store, has_all(20), recorder=recorder)
            proxy.cut()
            for index in range(20, 50):
                pub.publish(topic, numbered(index))
            recorder.wait_for("database unavailable")
            make_schema_newer(store)  # directly, not through the cut proxy
            proxy.restore()
            for index in range(50, 60):
                pub.publish(topic, numbered(index))
            code = recorder.wait(40)
            log = recorder.stderr
        assert code == 1, log
        assert "Traceback" not in log, log
        refusals = [line for line in log.splitlines() if f"version {FUTURE_VERSION} " in line]
        assert len(refusals) == 1, log
        assert sequence_numbers(read_journal(store)) == list(range(20))
        assert Spool(tmp_path / "recorder.spool").inspect().frames > 0
        store.execute("DELETE FROM schema_version WHERE version = ?", (FUTURE_VERSION,))
        store.commit()
        with running_recorder(config, subscribed=False) as restarted:
            wait_for_journal(store, has_all(60), timeout=30, recorder=restarted)
    check_exact(store, 60)
