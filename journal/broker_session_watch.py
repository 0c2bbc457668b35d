"""The recorder's watch over its broker session: a lost one is logged as a WARNING and recorded
in `broker_session_lost` for the health page (issue 9).

paho's network thread only appends an event (`connected`, `disconnected`): it must never block.
A thread of our own turns the events into decisions (journal/broker_session.py) and writes them
with a short-lived store per write, retried with capped backoff while the database is down, so
message flow never waits for it. While connected it also records a heartbeat, so a recorder that
dies without disconnecting still leaves a recent "held until".
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from journal.broker_session import Loss, SessionLedger
from journal.entries import to_micros, utc_text
from journal.storage import StorageError, Store

log = logging.getLogger(__name__)

HEARTBEAT = 60.0  # seconds between "still held" records while connected
MAX_BACKOFF = 30.0  # seconds between database retries at most
CLOSE_WAIT = 2.0  # seconds the last write may take at shutdown (a stop must stay prompt)

# (session present, or None for a disconnect; when, ns since the epoch)
Event = tuple[bool | None, int]


def iso(epoch_ns: int) -> str:
    """A moment as the log shows it: ISO 8601 UTC with a Z, to the second."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_ns // 1_000_000_000))


def read_held_until(store: Store, client_id: str) -> int | None:
    """The stored "held until" of a client id, ns since the epoch; None if it has none."""
    row = store.query_one("SELECT held_until FROM broker_session WHERE client_id = ?", (client_id,))
    store.rollback()
    return None if row is None else to_micros(row[0]) * 1000


def write_session(store: Store, client_id: str, held_ns: int | None, losses: list[Loss]) -> None:
    """One transaction: the losses found and the newest "held until"."""
    with store.transaction():
        if losses:
            store.executemany(
                store.insert_ignore_sql(
                    "broker_session_lost", ("client_id", "since", "detected_at")
                ),
                [(client_id, utc_text(x.since_ns), utc_text(x.detected_ns)) for x in losses],
            )
        if held_ns is not None:
            store.execute(
                store.upsert_sql("broker_session", ("client_id", "held_until"), "client_id"),
                (client_id, utc_text(held_ns)),
            )


class BrokerSessionWatch:
    """Notices a broker that forgot our session; see the module docstring."""

    def __init__(
        self,
        client_id: str,
        broker: str,
        open_db: Callable[[], Store],
        *,
        heartbeat: float = HEARTBEAT,
    ) -> None:
        self.client_id = client_id
        self.broker = broker  # host:port, for the log line
        self._open_db = open_db
        self._heartbeat = heartbeat
        self._ledger = SessionLedger()
        self._events: deque[Event] = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="broker-session", daemon=True)
        self._losses: list[Loss] = []  # found, not written yet
        self._dirty = False  # the ledger's held_until is not written yet
        self._failing_since: float | None = None
        self.losses_found = 0

    # ---- paho's network thread: append only ---------------------------------------------------

    def connected(self, session_present: bool) -> None:
        self._events.append((session_present, time.time_ns()))
        self._wake.set()

    def disconnected(self) -> None:
        self._events.append((None, time.time_ns()))
        self._wake.set()

    # ---- lifecycle (the recorder's main thread) -----------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout: float = CLOSE_WAIT) -> None:
        """Write what is pending (one last try), then stop; never waits more than `timeout`."""
        if not self._thread.is_alive():
            return
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        if self._thread.is_alive() or self._losses:
            log.error(
                "could not record %d lost broker session(s) before exiting (database "
                "unreachable); the WARNING lines above are all that is left of them",
                len(self._losses),
            )

    # ---- our thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        backoff = 0.0
        next_beat = time.monotonic() + self._heartbeat
        while True:
            stopping = self._stop.is_set()
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + self._heartbeat
                self._dirty |= self._ledger.heartbeat(time.time_ns())
            try:
                self._handle_events()
                if self._dirty or self._losses:
                    self._write()
            except StorageError as exc:
                backoff = min(MAX_BACKOFF, max(1.0, backoff * 2))
                if self._failing_since is None:
                    self._failing_since = time.monotonic()
                    log.error("cannot record the broker session (%s); retrying", exc)
            else:
                backoff = 0.0
                if self._failing_since is not None:
                    log.info(
                        "broker session recorded again after %.1f s",
                        time.monotonic() - self._failing_since,
                    )
                    self._failing_since = None
            if stopping:
                return
            wait = backoff if backoff else max(0.0, next_beat - time.monotonic())
            self._wake.wait(wait)
            self._wake.clear()

    def _handle_events(self) -> None:
        """Judge each event in order; a "no session" answer may first need the stored record."""
        ledger = self._ledger
        while self._events:
            present, at_ns = self._events[0]
            if present is None:
                self._dirty |= ledger.disconnect(at_ns)
            else:
                if ledger.needs_record(present):
                    with self._open_db() as store:
                        ledger.load(read_held_until(store, self.client_id))
                loss = ledger.connect(present, at_ns)
                self._dirty = True
                if loss is not None:
                    self._found(loss)
                elif not present:
                    log.info(
                        "first session at broker %s for client id %s", self.broker, self.client_id
                    )
            self._events.popleft()

    def _found(self, loss: Loss) -> None:
        self.losses_found += 1
        self._losses.append(loss)
        log.warning(
            "broker session lost: broker %s had no session for client id %s, so messages queued "
            "for us since %s (the end of our last session there) may be lost; recorded as a "
            "possible loss on /health",
            self.broker,
            self.client_id,
            iso(loss.since_ns),
        )

    def _write(self) -> None:
        losses = list(self._losses)
        held = self._ledger.held_until_ns if self._dirty else None
        with self._open_db() as store:
            write_session(store, self.client_id, held, losses)
        del self._losses[: len(losses)]
        self._dirty = False
