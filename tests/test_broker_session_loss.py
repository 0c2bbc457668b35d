"""Issue 9, a broker that lost its state: Mosquitto saves its sessions only every
`autosave_interval`, so a broker killed before its save comes back without the recorder's session
and without what it had queued for it. The recorder must say so (a WARNING), record the possible
loss and show it on /health; a broker that kept the session, and a first connect, record nothing.

Real private Mosquitto (persistence on, a save interval of an hour: nothing is saved before the
SIGKILL), the recorder as a real process, both databases, /health through Flask's test client.
"""

from __future__ import annotations

import logging
import signal
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from journal.broker_session import Loss, SessionLedger
from journal.broker_session_watch import BrokerSessionWatch
from journal.entries import to_micros
from journal.storage import Store, open_store
from tests.recorder_support import (
    journal_count,
    publisher,
    read_journal,
    running_recorder,
    wait_for_journal,
    wait_until,
    write_config,
)
from tests.services import PrivateBroker, TcpProxy, mysql_database
from tests.web_site import web_config
from webapp import create_app

WARNING = "WARNING journal.broker_session_watch: broker session lost"
UNSAVED = "autosave_interval 3600\n"  # overrides PrivateBroker's 1 s: no save before the kill
JSON = {"Accept": "application/json"}


# ---- the decision, pure ----------------------------------------------------------------------


def test_a_first_connect_is_not_a_loss() -> None:
    ledger = SessionLedger()
    assert ledger.needs_record(session_present=False)
    ledger.load(None)  # no record: this client id never held a session
    assert ledger.connect(False, 100) is None
    assert ledger.held_until_ns == 100


def test_a_reconnect_without_the_session_is_a_loss_since_the_disconnect() -> None:
    ledger = SessionLedger()
    ledger.load(None)
    ledger.connect(False, 100)
    assert ledger.heartbeat(150)
    assert ledger.disconnect(200)
    assert not ledger.disconnect(250)  # a second disconnect says nothing new
    assert not ledger.needs_record(session_present=False)  # known in this process
    assert ledger.connect(False, 300) == Loss(since_ns=200, detected_ns=300)


def test_a_kept_session_is_not_a_loss_and_needs_no_record() -> None:
    ledger = SessionLedger()
    assert not ledger.needs_record(session_present=True)
    assert ledger.connect(True, 100) is None
    ledger.disconnect(200)
    assert ledger.connect(True, 300) is None


def test_the_record_of_an_earlier_run_makes_a_first_connect_a_loss() -> None:
    ledger = SessionLedger()
    ledger.load(50)
    assert ledger.connect(False, 100) == Loss(since_ns=50, detected_ns=100)
    assert ledger.connect(True, 200) is None  # now held again


# ---- with a real broker and recorder ---------------------------------------------------------


def lost_rows(store: Store) -> list[tuple[str, int, int]]:
    """broker_session_lost as (client id, since, detected_at) in µs, from a fresh snapshot."""
    store.rollback()
    rows = store.query(
        "SELECT client_id, since, detected_at FROM broker_session_lost ORDER BY detected_at"
    )
    store.rollback()
    return [(str(c), to_micros(a), to_micros(b)) for c, a, b in rows]


def held_until(store: Store, client_id: str) -> int | None:
    store.rollback()
    row = store.query_one("SELECT held_until FROM broker_session WHERE client_id = ?", (client_id,))
    store.rollback()
    return None if row is None else to_micros(row[0])


def health(db_url: str) -> tuple[dict[str, Any], str]:
    """/health as JSON and as HTML, from the recorder's own database."""
    client = create_app(web_config(db_url), {"TESTING": True}).test_client()
    response = client.get("/health", headers=JSON)
    assert response.status_code == 200
    return response.json, client.get("/health").text  # type: ignore[return-value]


def iso(micros: int) -> str:
    return datetime.fromtimestamp(micros / 1e6, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_us() -> int:
    return time.time_ns() // 1000


def assert_one_loss_shown(
    db_url: str, store: Store, client_id: str, after_us: int, before_us: int
) -> tuple[int, int]:
    """Exactly one possible-loss interval, starting inside [after, before]; /health shows it."""
    wait_until(lambda: bool(lost_rows(store)), 10, "the loss in broker_session_lost")
    [(who, since, detected)] = lost_rows(store)
    assert who == client_id
    assert after_us <= since <= before_us and since < detected <= now_us()
    data, page = health(db_url)
    assert data["broker_sessions_lost"] == [
        {"client_id": client_id, "since": iso(since), "detected_at": iso(detected)}
    ]
    assert data["broker_sessions_lost"][0]["since"].endswith("Z")
    assert 'id="health-broker-sessions"' in page and client_id in page
    return since, detected


def assert_nothing_lost(db_url: str, store: Store) -> None:
    assert lost_rows(store) == []
    data, page = health(db_url)
    assert data["broker_sessions_lost"] == []
    assert 'id="no-broker-sessions-lost"' in page


def unsaved_broker(
    tmp_path: Path, db_url: str, topic_prefix: str, protocol: str
) -> tuple[PrivateBroker, str, Path]:
    """A started private broker that never saves before it is killed, a fresh client id, and a
    recorder configuration for both."""
    broker = PrivateBroker(tmp_path / "broker", extra=UNSAVED)
    broker.start()
    client_id = f"rec-{uuid.uuid4().hex[:12]}"
    config = write_config(
        tmp_path,
        broker_port=broker.port,
        db_url=db_url,
        topics=f"{topic_prefix}/#",
        client_id=client_id,
        protocol=protocol,
    )
    return broker, client_id, config


@pytest.mark.mqtt
@pytest.mark.timeout(90)
@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_broker_killed_under_a_running_recorder(
    protocol: str, db_url: str, store: Store, topic_prefix: str, tmp_path: Path
) -> None:
    broker, client_id, config = unsaved_broker(tmp_path, db_url, topic_prefix, protocol)
    try:
        with running_recorder(config) as recorder:
            # The first connect ever of this client id: no session, and no loss either.
            recorder.wait_for("first session at broker")
            with publisher(broker.port) as pub:
                for index in range(20):
                    pub.publish(f"{topic_prefix}/amp", b"%d" % index)
            wait_for_journal(store, lambda e: len(e) >= 20, recorder=recorder)
            wait_until(lambda: held_until(store, client_id) is not None, 10, "the record")
            assert_nothing_lost(db_url, store)

            killed = now_us()
            broker.stop(signal.SIGKILL)
            broker.start()
            recorder.wait_for(WARNING, timeout=30)
            assert recorder.count(WARNING) == 1
            # The interval starts when the connection to the killed broker ended.
            assert_one_loss_shown(db_url, store, client_id, killed, now_us())
    finally:
        broker.stop()


@pytest.mark.mqtt
@pytest.mark.timeout(90)
@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_broker_killed_while_the_recorder_was_stopped(
    protocol: str, db_url: str, store: Store, topic_prefix: str, tmp_path: Path
) -> None:
    broker, client_id, config = unsaved_broker(tmp_path, db_url, topic_prefix, protocol)
    try:
        with running_recorder(config) as recorder, publisher(broker.port) as pub:
            pub.publish(f"{topic_prefix}/amp", b"before")
            wait_for_journal(store, lambda e: len(e) == 1, recorder=recorder)
            stopping = now_us()
            recorder.signal(signal.SIGTERM)
            assert recorder.wait(15) == 0
            stopped = now_us()
            assert recorder.count(WARNING) == 0
        # The clean stop recorded when the session was last known to be held.
        held = held_until(store, client_id)
        assert held is not None and stopping <= held <= stopped

        with publisher(broker.port) as pub:  # queued at the broker for the stopped recorder
            for index in range(100):
                pub.publish(f"{topic_prefix}/amp", b"queued %d" % index)
        broker.stop(signal.SIGKILL)  # before any save: the queue is gone
        broker.start()

        with running_recorder(config) as recorder:
            recorder.wait_for(WARNING, timeout=30)
            assert "session present: False" in recorder.stderr
            assert_one_loss_shown(db_url, store, client_id, stopping, stopped)
            time.sleep(0.5)  # a queued message, had the broker kept one, would be here by now
            assert [e.payload for e in read_journal(store)] == [b"before"]  # the loss is real
    finally:
        broker.stop()


@pytest.mark.mqtt
@pytest.mark.timeout(90)
def test_a_broker_that_saved_its_state_records_nothing(
    db_url: str, store: Store, broker: PrivateBroker, topic_prefix: str, tmp_path: Path
) -> None:
    """A clean broker restart (SIGTERM saves the sessions), under a running recorder and while
    it is stopped with messages queued: the session is present, nothing is recorded."""
    client_id = f"rec-{uuid.uuid4().hex[:12]}"
    config = write_config(
        tmp_path,
        broker_port=broker.port,
        db_url=db_url,
        topics=f"{topic_prefix}/#",
        client_id=client_id,
    )
    with running_recorder(config) as recorder:
        recorder.wait_for("first session at broker")
        broker.restart()
        wait_until(lambda: recorder.count("session present: True") == 1, 30, "a reconnect")
        recorder.signal(signal.SIGTERM)
        assert recorder.wait(15) == 0
    with publisher(broker.port) as pub:
        for index in range(50):
            pub.publish(f"{topic_prefix}/amp", b"queued %d" % index)
    broker.restart()
    with running_recorder(config) as recorder:
        wait_for_journal(store, lambda e: len(e) == 50, recorder=recorder)
        assert "session present: True" in recorder.stderr
        assert recorder.count(WARNING) == 0
        assert journal_count(store) == 50
    assert_nothing_lost(db_url, store)
    assert held_until(store, client_id) is not None


# ---- the database down: the watch retries and never blocks -----------------------------------


@pytest.mark.timeout(60)
def test_a_loss_found_while_the_database_is_down_is_recorded_when_it_returns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """MariaDB behind a proxy we cut: the connect is judged from the record read before the
    outage, the WARNING comes at once, the row once the database is back."""
    from journal.migrate import migrate
    from journal.storage import parse_database_url

    caplog.set_level(logging.INFO, logger="journal.broker_session_watch")
    with mysql_database() as url:
        with open_store(url) as admin:
            migrate(admin)
        target = parse_database_url(url)
        proxy = TcpProxy(target.port, target.host)
        auth = target.user + (f":{target.password}" if target.password else "")
        via_proxy = f"mysql://{auth}@127.0.0.1:{proxy.port}/{target.database}"
        watch = BrokerSessionWatch("rec-outage", "test:1883", lambda: open_store(via_proxy))
        try:
            watch.start()
            watch.connected(False)  # first ever: recorded, no loss
            with open_store(url) as admin:
                wait_until(lambda: held_until(admin, "rec-outage") is not None, 10, "record")
            proxy.cut()
            watch.disconnected()
            watch.connected(False)  # the broker forgot us: judged without the database
            wait_until(lambda: "broker session lost" in caplog.text, 10, "the WARNING")
            wait_until(lambda: "cannot record the broker session" in caplog.text, 10, "retry")
            with open_store(url) as admin:
                assert lost_rows(admin) == []
                proxy.restore()
                wait_until(lambda: len(lost_rows(admin)) == 1, 20, "the row after the outage")
            assert "broker session recorded again" in caplog.text
        finally:
            watch.close()
            proxy.close()
