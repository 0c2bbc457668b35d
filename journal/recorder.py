"""`chargelog record`: the thin recorder. Every MQTT message goes into the journal unchanged and is
acknowledged to the broker only after it is durable, in arrival order.

Two threads: paho's network thread only enqueues (it must never block, or keepalives stop and the
broker drops us); the main thread is the single writer that commits batches and then acks them.

When nothing can be stored (the database away and the spool's disk full) the writer keeps the
one batch it holds, unacknowledged, retries it every second and takes nothing more from the queue;
the MQTT session stays up. After `[recorder] stall_timeout` seconds of that it exits with status
75 (EX_TEMPFAIL) for systemd to restart it. The broker keeps every unacknowledged QoS 1 message.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections import deque
from typing import Any, TextIO

import paho.mqtt.client as mqtt

from journal.broker_session_watch import BrokerSessionWatch
from journal.config import Config
from journal.entries import Row, utc_text
from journal.migrate import SchemaError
from journal.mqtt_client import build_client, connect_async, puback_writer, release
from journal.sdnotify import Notifier
from journal.spool import Spool, SpoolError, default_spool_path
from journal.storage import open_store
from journal.writer import JournalWriter, WriteBlocked

log = logging.getLogger(__name__)

IDLE_TICK = 0.5  # seconds between watchdog pings and database retries when no message comes
LINGER = 0.002  # a batch waits this long for one more message before it commits
BLOCKED_RETRY = 1.0  # seconds between attempts to store the held batch while nothing can be stored
EXIT_STALLED = 75  # EX_TEMPFAIL: blocked longer than [recorder] stall_timeout; systemd restarts us

# What the network thread queues for the writer, one per message: receive time (ns since the
# epoch), topic, payload, qos, retain flag, message id, and the connection generation it came on.
Received = tuple[int, str, bytes | bytearray, int, bool, int, int]

__all__ = ["Recorder", "default_spool_path", "run_recorder"]  # default_spool_path: journal.spool


class Recorder:
    def __init__(self, cfg: Config, *, echo: TextIO | None = None) -> None:
        self.cfg = cfg
        self.echo = echo
        self.notifier = Notifier()
        self.writer = JournalWriter(
            lambda: open_store(cfg.database.url, read_timeout=30),
            Spool(default_spool_path(cfg)),
            auto_migrate=cfg.database.auto_migrate,
        )
        self.client = build_client(cfg.mqtt)
        # Notices a broker that lost our session (and the messages it queued for us).
        self.broker_session = BrokerSessionWatch(
            cfg.mqtt.client_id,
            f"{cfg.mqtt.host}:{cfg.mqtt.port}",
            lambda: open_store(cfg.database.url, read_timeout=10),
        )
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self._send_pubacks = puback_writer(self.client)
        if self._send_pubacks is None:
            log.info("acknowledging one message at a time (this paho-mqtt has no _packet_queue)")
        self._queue: deque[Received] = deque()
        self._wakeup = threading.Event()
        self._stop = threading.Event()
        # The connection generation: a message id is only meaningful on the connection that
        # delivered it, so an ack for an older connection must never be sent on a newer one.
        self._generation = 0
        self._ack_lock = threading.Lock()
        self._broker_down_since: float | None = None
        self._ever_connected = False
        self._dropped = 0
        # The batch that could not be stored (database away, spool full): retried, never acked.
        self._held: list[Received] = []
        self.received = 0
        # Most messages seen waiting for the writer: Mosquitto 2.0 does not always keep to the
        # in-flight window (or Receive Maximum) once acks flow, so this is worth logging.
        self.queue_peak = 0

    # ---- network thread: enqueue only ------------------------------------------------------

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        queue = self._queue
        qos = message.qos
        if qos == 0 and len(queue) >= self.cfg.recorder.max_queue:
            # Only QoS 0 can pile up beyond the broker's in-flight window; count what we drop.
            self._dropped += 1
            if self._dropped == 1 or self._dropped % 1000 == 0:
                log.error("queue full: dropped %d QoS 0 message(s)", self._dropped)
            return
        try:
            topic = message.topic
        except UnicodeDecodeError:
            # A conforming broker never forwards such a topic; journal it rather than stall.
            topic = message._topic.decode("utf-8", "replace")
            log.error("topic is not valid UTF-8, journaled as %r", topic)
        # Keep only what the journal and the ack need, not paho's message object (an MQTT 5
        # message carries ~6 KB of Properties): the queue can hold thousands.
        queue.append(
            (
                time.time_ns(),
                topic,
                message.payload,
                qos,
                message.retain,
                message.mid,
                self._generation,
            )
        )
        if not self._wakeup.is_set():
            self._wakeup.set()

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            log.error(
                "broker %s:%s refused the connection: %s",
                self.cfg.mqtt.host,
                self.cfg.mqtt.port,
                reason,
            )
            return
        with self._ack_lock:
            self._generation += 1
        self.broker_session.connected(bool(getattr(flags, "session_present", False)))
        if self._broker_down_since is not None:
            log.warning(
                "broker connection back after %.1f s", time.monotonic() - self._broker_down_since
            )
            self._broker_down_since = None
        log.info(
            "connected to broker %s:%s as %s (MQTT %s, session present: %s)",
            self.cfg.mqtt.host,
            self.cfg.mqtt.port,
            self.cfg.mqtt.client_id,
            self.cfg.mqtt.protocol,
            bool(getattr(flags, "session_present", False)),
        )
        # Re-subscribe on every connect: a broker that lost our session must learn it again.
        client.subscribe([(topic, 1) for topic in self.cfg.mqtt.topics])
        if not self._ever_connected:
            self._ever_connected = True
            self.notifier.ready("connected to the broker")

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, props: Any
    ) -> None:
        for topic, reason in zip(self.cfg.mqtt.topics, reasons, strict=False):
            if reason.is_failure:
                log.error("subscription to %s refused: %s", topic, reason)
            else:
                log.info("subscribed to %s (granted QoS %s)", topic, reason.value)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        self.broker_session.disconnected()
        if self._stop.is_set():
            return
        if self._broker_down_since is None:
            self._broker_down_since = time.monotonic()
            log.warning("broker connection lost (%s); reconnecting", reason)

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        if self._broker_down_since is None:
            self._broker_down_since = time.monotonic()
            log.warning(
                "cannot reach broker %s:%s; retrying", self.cfg.mqtt.host, self.cfg.mqtt.port
            )

    # ---- the writer: the main thread -------------------------------------------------------

    def request_stop(self, *_: Any) -> None:
        self._stop.set()
        self._wakeup.set()

    def run(self) -> int:
        """Record until SIGTERM/SIGINT; returns the process exit code. A schema newer than this
        code (SchemaError) stops it without acknowledging anything it did not store."""
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        self.writer.start()
        self.broker_session.start()
        connect_async(self.client, self.cfg.mqtt)
        self.client.loop_start()
        code = 0
        try:
            code = self._record()
        except SchemaError:
            # One line from the command (chargelog: ...); keep the broker session clean.
            self._disconnect()
            raise
        except SpoolError as exc:
            log.error("%s: stopping, nothing unstored was acknowledged", exc)
            self._disconnect()
            code = 1
        finally:
            self.writer.close()
            self.broker_session.close()
        log.info(
            "recorder stopped after %d message(s); at most %d waited in memory",
            self.received,
            self.queue_peak,
        )
        return code

    def _record(self) -> int:
        """The writer loop, then the orderly stop; returns the exit code."""
        stall_timeout = self.cfg.recorder.stall_timeout
        while not self._stop.is_set():
            if self._held:
                # Blocked: retry the same batch, take nothing more (paho keeps queueing: QoS 1
                # up to the broker's in-flight window, QoS 0 up to max_queue, then dropped).
                self.notifier.watchdog()
                if self._stop.wait(BLOCKED_RETRY):
                    break
                if self._persist_and_ack(self._held):
                    self._held = []
                    continue
                blocked = self.writer.blocked_for() or 0.0
                if stall_timeout and blocked >= stall_timeout:
                    log.error(
                        "nothing could be stored for %.0f s (database unreachable, no room to "
                        "spool): exiting with status %d for systemd to restart the recorder; "
                        "%d QoS 1 message(s) held here, unacknowledged, stay with the broker",
                        blocked,
                        EXIT_STALLED,
                        self._unacked_qos1(),
                    )
                    self._disconnect()
                    return EXIT_STALLED
                continue
            batch = self._collect()
            self.notifier.watchdog()
            if batch:
                if not self._persist_and_ack(batch):
                    self._held = batch
            else:
                self.writer.tick()
        self.notifier.stopping()
        # Stop receiving only after what we have is committed and acked.
        final = self._held + self._take(len(self._queue))
        self._held = []
        stored = self._persist_and_ack(final)
        self._disconnect()
        leftover = self._take(len(self._queue))
        if stored and leftover:
            # No connection to ack on: QoS 1 ones will come again (a duplicate, not a loss).
            stored = self._persist(leftover)
            if stored:
                log.info("journaled %d message(s) that arrived during shutdown", len(leftover))
        if not stored:
            unstored = final + leftover
            qos0 = sum(1 for entry in unstored if entry[3] == 0)
            log.error(
                "stopping with %d message(s) not stored and not acknowledged: the broker keeps "
                "the QoS 1 ones for the next start; %d QoS 0 one(s) are lost",
                len(unstored) - qos0,
                qos0,
            )
        return 0

    def _disconnect(self) -> None:
        """Leave the broker cleanly (the session, and what we did not ack, stays there)."""
        self._stop.set()  # so the disconnection is not logged as a lost connection
        self.client.disconnect()
        release(self.client)

    def _unacked_qos1(self) -> int:
        return sum(1 for entry in (*self._held, *self._queue) if entry[3])

    def _take(self, limit: int) -> list[Received]:
        queue = self._queue
        return [queue.popleft() for _ in range(min(limit, len(queue)))]

    def _collect(self) -> list[Received]:
        """Group commit: take what is queued, and linger briefly while more keeps arriving."""
        cfg = self.cfg.recorder
        self._wakeup.clear()
        if not self._queue and not self._wakeup.wait(IDLE_TICK):
            return []
        self.queue_peak = max(self.queue_peak, len(self._queue))
        batch = self._take(cfg.batch_size)
        deadline = time.monotonic() + cfg.flush_interval
        while len(batch) < cfg.batch_size and not self._stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            # Sleep through the linger instead of waking for each message that arrives meanwhile:
            # one wake-up per LINGER, however fast messages come.
            time.sleep(min(LINGER, remaining))
            if not self._queue:
                break  # nothing came while we waited
            batch.extend(self._take(cfg.batch_size - len(batch)))
        return batch

    def _persist(self, batch: list[Received]) -> bool:
        """Make `batch` durable; False when nothing can take it (it must not be acked)."""
        rows: list[Row] = [
            (utc_text(ns), topic, payload, qos, 1 if retain else 0)
            for ns, topic, payload, qos, retain, _, _ in batch
        ]
        try:
            self.writer.write(rows)
        except WriteBlocked:
            return False  # the writer logged it, once
        self.received += len(rows)
        if self.echo is not None:
            for _, topic, payload, _, _ in rows:
                self.echo.write(f"{topic} {payload.decode('utf-8', 'replace')}\n")
            self.echo.flush()
        return True

    def _persist_and_ack(self, batch: list[Received]) -> bool:
        """Store, then acknowledge; False (and no ack) when it could not be stored."""
        if not batch:
            return True
        if not self._persist(batch):
            return False
        with self._ack_lock:
            generation = self._generation
            current = [entry for entry in batch if entry[3] and entry[6] == generation]
            if not current:
                return True
            if self._send_pubacks is not None and all(entry[3] == 1 for entry in current):
                # In arrival order, as one write (QoS 2 never comes: we subscribe at QoS 1).
                self._send_pubacks([entry[5] for entry in current])
            else:
                ack = self.client.ack
                for _, _, _, qos, _, mid, _ in current:
                    ack(mid, qos)
        return True


def run_recorder(cfg: Config, verbose: bool) -> int:
    return Recorder(cfg, echo=sys.stdout if verbose else None).run()
