"""Real services for tests: a throwaway MariaDB database, a private Mosquitto, a TCP proxy that
can cut a connection, and the recorder as a real subprocess. No mocks of MySQL or MQTT."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from journal.storage import Store

MYSQL_ADMIN = os.environ.get("CHARGELOG_TEST_MYSQL", "mysql://root@127.0.0.1:3306/test")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


@contextmanager
def mysql_database() -> Iterator[str]:
    """A fresh database on the local MariaDB, dropped afterwards; yields its URL."""
    import mysql.connector

    from journal.storage import parse_database_url

    admin = parse_database_url(MYSQL_ADMIN)
    name = f"chargelog_t_{uuid.uuid4().hex[:12]}"
    conn = mysql.connector.connect(**admin.connect_args(with_database=False), connection_timeout=5)
    try:
        cursor = conn.cursor()
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        auth = admin.user + (f":{admin.password}" if admin.password else "")
        yield f"mysql://{auth}@{admin.host}:{admin.port}/{name}"
    finally:
        conn.reconnect(attempts=3, delay=1)
        cursor = conn.cursor()
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


class PrivateBroker:
    """A mosquitto of our own on a free port, which a test may stop, restart or kill."""

    def __init__(self, workdir: Path, *, persistence: bool = True, extra: str = "") -> None:
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            f"persistence {'true' if persistence else 'false'}\n"
            f"persistence_location {workdir}/\n"
            "autosave_interval 1\n"
            f"log_dest file {workdir}/mosquitto.log\n"
            # Started as root, mosquitto drops to user `mosquitto`, which cannot write into a
            # root-only tmp_path: no log, no persistence file, so a restart loses every session.
            f"user {pwd.getpwuid(os.geteuid()).pw_name}\n" + extra
        )

    def start(self) -> None:
        self.process = subprocess.Popen(
            [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None:
            self.process.send_signal(sig)
            self.process.wait(timeout=10)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


class TcpProxy:
    """Forwards 127.0.0.1:port to a target; `cut()` drops every connection and refuses new ones
    until `restore()`: a database or broker outage the test controls."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._up = threading.Event()
        self._up.set()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._up.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def cut(self) -> None:
        self._up.clear()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            except OSError:
                pass

    def restore(self) -> None:
        self._up.set()

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._listener.close()


def start_recorder(
    config_path: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`chargelog record` as a real process, as systemd would run it."""
    return subprocess.Popen(
        [sys.executable, "-m", "chargelog.cli", "--config", str(config_path), *extra, "record"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )


FUTURE_VERSION = 9999


def make_schema_newer(store: Store) -> None:
    """Record a schema step this code does not know, as a newer chargelog's migrate would."""
    store.execute(
        "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
        (FUTURE_VERSION, "future", "2030-01-01 00:00:00"),
    )
    store.commit()
