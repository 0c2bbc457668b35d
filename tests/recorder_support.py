"""Helpers for the recorder's integration tests: a config file, the recorder as a watched
subprocess, a QoS 1 publisher that waits for every PUBACK, and reading the journal back.
Everything talks to real services; every helper cleans up after itself."""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import paho.mqtt.client as mqtt

from journal.entries import JournalEntry, iter_all
from journal.mqtt_client import release
from journal.storage import Store
from tests.services import start_recorder


def write_config(
    directory: Path,
    *,
    broker_port: int,
    db_url: str,
    topics: str,
    protocol: str = "3.1.1",
    client_id: str | None = None,
) -> Path:
    """An INI for one recorder: a client id unique to the test, the spool in `directory`."""
    client_id = client_id or f"rec-{uuid.uuid4().hex[:12]}"
    path = directory / "recorder.ini"
    path.write_text(
        "[mqtt]\n"
        "host = 127.0.0.1\n"
        f"port = {broker_port}\n"
        f"topics = {topics}\n"
        f"client_id = {client_id}\n"
        f"protocol = {protocol}\n"
        "[database]\n"
        f"url = {db_url}\n"
        "[recorder]\n"
        f"spool_path = {directory / 'recorder.spool'}\n",
        encoding="utf-8",
    )
    return path


class RecorderProcess:
    """`chargelog record` as a subprocess whose stderr is collected line by line."""

    def __init__(self, config: Path) -> None:
        self.process = start_recorder(config)
        self._lines: list[str] = []
        self._lock = threading.Lock()
        assert self.process.stdout is not None and self.process.stderr is not None
        self._readers = [
            threading.Thread(target=self._drain, args=(pipe, keep), daemon=True)
            for pipe, keep in ((self.process.stderr, True), (self.process.stdout, False))
        ]
        for reader in self._readers:
            reader.start()

    def _drain(self, pipe: IO[bytes], keep: bool) -> None:
        for raw in pipe:
            if keep:
                with self._lock:
                    self._lines.append(raw.decode("utf-8", "replace"))

    @property
    def stderr(self) -> str:
        with self._lock:
            return "".join(self._lines)

    def count(self, text: str) -> int:
        with self._lock:
            return sum(text in line for line in self._lines)

    def running(self) -> bool:
        return self.process.poll() is None

    def wait_for(self, text: str, timeout: float = 15.0) -> None:
        """Until `text` shows in stderr; fails early if the recorder dies."""
        deadline = time.monotonic() + timeout
        while self.count(text) == 0:
            if not self.running():
                raise AssertionError(f"recorder exited ({self.process.returncode}):\n{self.stderr}")
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no {text!r} in the recorder's stderr after {timeout} s:\n{self.stderr}"
                )
            time.sleep(0.02)

    def signal(self, sig: int) -> None:
        self.process.send_signal(sig)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def close(self) -> None:
        """Kill whatever is left and release the pipes."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        for reader in self._readers:
            reader.join(timeout=5)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


@contextmanager
def running_recorder(config: Path, *, subscribed: bool = True) -> Iterator[RecorderProcess]:
    """A recorder, by default already subscribed; killed at the end whatever happens."""
    recorder = RecorderProcess(config)
    try:
        if subscribed:
            recorder.wait_for("subscribed to")
        yield recorder
    finally:
        recorder.close()


class Publisher:
    """A QoS 1 publisher that returns only once the broker acknowledged (PUBACK) a message, and
    that survives a broker restart: it republishes what was not acknowledged (a duplicate at
    worst, never a loss)."""

    def __init__(self, port: int, username: str | None = None, password: str | None = None) -> None:
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:12]}"
        )
        if username:
            self.client.username_pw_set(username, password)
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        self.connected = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.acked: list[bytes] = []  # payloads the broker acknowledged, in order
        self.closed = False
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        if not self.connected.wait(10):
            self.close()
            raise AssertionError(f"publisher could not connect to 127.0.0.1:{port}")

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: object,
        reason: mqtt.ReasonCode,
        props: object,
    ) -> None:
        if not reason.is_failure:
            self.connected.set()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: object, flags: object, reason: object, props: object
    ) -> None:
        self.connected.clear()

    def publish(
        self, topic: str, payload: bytes, *, retain: bool = False, timeout: float = 30.0
    ) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.closed:
                raise RuntimeError("publisher closed")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no PUBACK for {payload[:40]!r} on {topic} after {timeout} s")
            if not self.connected.wait(min(remaining, 1.0)):
                continue
            info = self.client.publish(topic, payload, qos=1, retain=retain)
            try:
                info.wait_for_publish(timeout=min(remaining, 2.0))
                if info.is_published():
                    self.acked.append(payload)
                    return
            except RuntimeError:  # not connected: wait for the reconnection, then again
                time.sleep(0.05)

    def close(self) -> None:
        self.closed = True  # a publishing thread still running stops at its next message
        self.client.disconnect()
        release(self.client)


@contextmanager
def publisher(
    port: int, username: str | None = None, password: str | None = None
) -> Iterator[Publisher]:
    client = Publisher(port, username, password)
    try:
        yield client
    finally:
        client.close()


class Background:
    """Run a publishing loop in a thread; `join()` re-raises what it raised."""

    def __init__(self, work: Callable[[], None]) -> None:
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(work,), daemon=True)
        self.thread.start()

    def _run(self, work: Callable[[], None]) -> None:
        try:
            work()
        except BaseException as exc:
            self.error = exc

    def join(self, timeout: float = 60.0) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the publishing thread did not finish"
        if self.error is not None:
            raise self.error


def read_journal(store: Store) -> list[JournalEntry]:
    """Every journal entry in seq order, from a fresh snapshot (MySQL reads are repeatable)."""
    store.rollback()
    try:
        return list(iter_all(store))
    finally:
        store.rollback()


def journal_count(store: Store) -> int:
    store.rollback()
    try:
        row = store.query_one("SELECT COUNT(*) FROM journal")
        return int(row[0]) if row else 0
    finally:
        store.rollback()


def wait_for_journal(
    store: Store,
    done: Callable[[list[JournalEntry]], bool],
    *,
    timeout: float = 30.0,
    recorder: RecorderProcess | None = None,
) -> list[JournalEntry]:
    """Poll the journal until `done(entries)`; returns the entries."""
    deadline = time.monotonic() + timeout
    while True:
        entries = read_journal(store)
        if done(entries):
            return entries
        if time.monotonic() > deadline:
            tail = f"\nrecorder stderr:\n{recorder.stderr}" if recorder else ""
            raise AssertionError(
                f"journal not complete after {timeout} s ({len(entries)} rows){tail}"
            )
        time.sleep(0.1)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def stream(
    pub: Publisher,
    topic: str,
    total: int,
    *,
    pause: float = 0.002,
    stop: threading.Event | None = None,
) -> Callable[[], None]:
    """A publishing loop for `Background`: numbered payloads, each acknowledged before the next,
    paced so a recorder restart never leaves more than the broker's 1000 queued messages."""

    def run() -> None:
        for index in range(total):
            if stop is not None and stop.is_set():
                return
            pub.publish(topic, numbered(index))
            time.sleep(pause)

    return run


def numbered(index: int) -> bytes:
    """A stream payload with a unique sequence number."""
    return b"seq:%06d" % index


def sequence_numbers(entries: list[JournalEntry]) -> list[int]:
    return [int(entry.payload[4:]) for entry in entries if entry.payload.startswith(b"seq:")]


def first_occurrences(numbers: list[int]) -> tuple[list[int], int]:
    """The numbers in order of their first occurrence, and how many repeats were dropped."""
    seen: set[int] = set()
    firsts = []
    for number in numbers:
        if number not in seen:
            seen.add(number)
            firsts.append(number)
    return firsts, len(numbers) - len(firsts)
