"""The recorder under faults: killed, stopped, broker restarted or absent, database cut. The rule
is at-least-once: every message the broker acknowledged ends up in the journal (duplicates are
allowed and counted), in the order the messages were published."""

from __future__ import annotations

import re
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from journal.entries import JournalEntry
from journal.storage import Store, parse_database_url
from tests.recorder_support import (
    Background,
    first_occurrences,
    journal_count,
    numbered,
    publisher,
    read_journal,
    running_recorder,
    sequence_numbers,
    stream,
    wait_for_journal,
    wait_until,
    write_config,
)
from tests.services import PrivateBroker, TcpProxy

pytestmark = [pytest.mark.mqtt, pytest.mark.slow, pytest.mark.timeout(60)]


def has_all(total: int) -> Callable[[list[JournalEntry]], bool]:
    """A wait_for_journal predicate: every number 0..total-1 is there."""
    wanted = set(range(total))
    return lambda entries: wanted <= set(sequence_numbers(entries))


def check_complete(store: Store, total: int, label: str) -> None:
    """Every number 0..total-1 is journaled and first occurrences keep publish order."""
    firsts, duplicates = first_occurrences(sequence_numbers(read_journal(store)))
    print(f"{label} [{store.dialect}]: duplicates: {duplicates}")
    assert firsts == list(range(total))


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_sigkill_mid_stream_then_restart_loses_nothing(
    protocol: str,
    db_url: str,
    store: Store,
    broker: PrivateBroker,
    topic_prefix: str,
    tmp_path: Path,
) -> None:
    """A crash between commit and ack, or before commit, must cost a duplicate at most: the
    broker session keeps and redelivers everything not acknowledged. Three kills at different
    points give a bug in the commit-then-ack order three chances to show."""
    total = 3000
    topic = f"{topic_prefix}/openevse/seq"
    config = write_config(
        tmp_path,
        broker_port=broker.port,
        db_url=db_url,
        topics=f"{topic_prefix}/#",
        protocol=protocol,
    )
    with publisher(broker.port) as pub:
        publishing: Background | None = None
        for kill_at in (600, 1400, 2200):
            with running_recorder(config, subscribed=publishing is None) as recorder:
                if publishing is None:
                    publishing = Background(stream(pub, topic, total))
                wait_until(
                    lambda at=kill_at: journal_count(store) >= at, 30, f"{kill_at} journal rows"
                )
                recorder.signal(signal.SIGKILL)
                assert recorder.wait(5) == -signal.SIGKILL
        assert len(pub.acked) < total, "the kills must come mid-stream"
        assert publishing is not None
        with running_recorder(config, subscribed=False) as second:
            publishing.join()
            wait_for_journal(store, has_all(total), recorder=second)
    check_complete(store, total, f"sigkill {protocol}")


def test_broker_restart_mid_stream_loses_nothing(
    db_url: str, store: Store, broker: PrivateBroker, topic_prefix: str, tmp_path: Path
) -> None:
    """A clean broker restart (persistence on) keeps the recorder's queue; both clients reconnect
    and every message the broker acknowledged to the publisher reaches the journal."""
    total = 2000
    topic = f"{topic_prefix}/openevse/seq"
    config = write_config(
        tmp_path, broker_port=broker.port, db_url=db_url, topics=f"{topic_prefix}/#"
    )
    with running_recorder(config) as recorder, publisher(broker.port) as pub:
        publishing = Background(stream(pub, topic, total))
        wait_until(lambda: len(pub.acked) >= 700, 30, "700 acknowledged publishes")
        broker.stop(signal.SIGTERM)  # mosquitto saves its persistence file on SIGTERM
        broker.start()
        publishing.join()
        wait_for_journal(store, has_all(total), recorder=recorder)
        assert recorder.running()
        assert recorder.count("broker connection lost") == 1
        assert recorder.count("broker connection back") == 1
    assert {int(p[4:]) for p in pub.acked} == set(range(total))
    check_complete(store, total, "broker restart")


@pytest.mark.parametrize("db_url", ["mysql"], indirect=True)
def test_database_outage_is_spooled_logged_once_and_loses_nothing(
    db_url: str, store: Store, broker: PrivateBroker, topic_prefix: str, tmp_path: Path
) -> None:
    """While MariaDB is unreachable the recorder keeps running, spools and acknowledges, so the
    broker's 1000-message queue never overflows; on return the spool drains in order."""
    before, during, after = 100, 1500, 100  # `during` > mosquitto's max_queued_messages (1000)
    target = parse_database_url(db_url)
    proxy = TcpProxy(target.port, target.host)
    try:
        proxied = db_url.replace(f"@{target.host}:{target.port}/", f"@127.0.0.1:{proxy.port}/")
        assert proxied != db_url
        config = write_config(
            tmp_path, broker_port=broker.port, db_url=proxied, topics=f"{topic_prefix}/#"
        )
        topic = f"{topic_prefix}/openevse/seq"
        spool = tmp_path / "recorder.spool"
        with running_recorder(config) as recorder, publisher(broker.port) as pub:
            for index in range(before):
                pub.publish(topic, numbered(index))
            wait_until(lambda: journal_count(store) >= before, 20, "the first messages")
            proxy.cut()
            cut_at = time.monotonic()
            for index in range(before, before + during):  # ~5 s, a pace the recorder holds
                pub.publish(topic, numbered(index))
                time.sleep(0.003)
            recorder.wait_for("database unavailable")
            time.sleep(max(0.0, cut_at + 10.5 - time.monotonic()))
            assert recorder.running()
            assert spool.stat().st_size > 0
            proxy.restore()
            for index in range(before + during, before + during + after):
                pub.publish(topic, numbered(index))
            recorder.wait_for("database is back", timeout=40)
            wait_for_journal(store, has_all(before + during + after), recorder=recorder)
            assert recorder.running()
            assert recorder.count("database unavailable") == 1
            assert recorder.count("database is back") == 1
            spooled = re.search(r"(\d+) message\(s\) were spooled", recorder.stderr)
            assert spooled and int(spooled[1]) >= during
            assert not spool.exists()
        check_complete(store, before + during + after, "database outage")
    finally:
        proxy.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stop_signal_exits_zero_promptly_and_loses_nothing(
    sig: int, db_url: str, store: Store, broker: PrivateBroker, topic_prefix: str, tmp_path: Path
) -> None:
    """systemd stops the service with SIGTERM mid-stream: it must commit what it holds, ack it and
    exit 0 within 5 s; what it had not taken stays in the broker session for the next start."""
    topic = f"{topic_prefix}/openevse/seq"
    config = write_config(
        tmp_path, broker_port=broker.port, db_url=db_url, topics=f"{topic_prefix}/#"
    )
    stop = threading.Event()
    with publisher(broker.port) as pub:
        with running_recorder(config) as recorder:
            publishing = Background(stream(pub, topic, 3000, stop=stop))
            wait_until(lambda: journal_count(store) >= 300, 30, "300 journaled messages")
            started = time.monotonic()
            recorder.signal(sig)
            code = recorder.wait(5)
            elapsed = time.monotonic() - started
            stop.set()
            publishing.join()
            assert code == 0, recorder.stderr
            assert "recorder stopped after" in recorder.stderr
        print(f"stopped in {elapsed:.2f} s")
        at_exit = sequence_numbers(read_journal(store))
        # All it took is journaled: a gap-free prefix of the stream, in order, no duplicate.
        assert at_exit == list(range(len(at_exit)))
        total = len(pub.acked)
        assert len(at_exit) < total, "the stop must come mid-stream"
        with running_recorder(config, subscribed=False) as restarted:
            wait_for_journal(store, has_all(total), recorder=restarted)
    check_complete(store, total, f"{signal.Signals(sig).name}")


def test_broker_down_at_start_connects_when_it_comes(
    db_url: str, store: Store, broker: PrivateBroker, topic_prefix: str, tmp_path: Path
) -> None:
    """After a power cut the recorder may start before mosquitto: it must retry, not exit."""
    broker.stop()
    config = write_config(
        tmp_path, broker_port=broker.port, db_url=db_url, topics=f"{topic_prefix}/#"
    )
    topic = f"{topic_prefix}/openevse/seq"
    with running_recorder(config, subscribed=False) as recorder:
        recorder.wait_for("cannot reach broker")
        time.sleep(1.5)
        assert recorder.running()
        broker.start()
        recorder.wait_for("subscribed to", timeout=30)
        with publisher(broker.port) as pub:
            for index in range(50):
                pub.publish(topic, numbered(index))
        wait_for_journal(store, has_all(50), recorder=recorder)
    check_complete(store, 50, "broker down at start")
