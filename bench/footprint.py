"""Sealed journal: bytes on disk, sealing and rebuild speed, memory, the detail page and the
recorder beside a seal, on MariaDB and SQLite side by side (issue 11's figures, one run).

    python bench/footprint.py                          # both backends, 14 days of 2 chargers
    python bench/footprint.py --backend sqlite --days 3 --memory-sizes 0 --no-recorder
    python bench/footprint.py --days 28 --memory-sizes 1000000,20000000

Per backend, in a database of its own (MariaDB: a scratch database on 127.0.0.1, dropped at the
end; SQLite: a file in a temporary directory, removed):

1. `--days` of `--chargers` chargers from the simulator (simulator.traffic, the stream
   `chargelog simulate` writes), ending `--gap-days` before today so every day is sealable,
   written as the recorder writes them: journal.entries.append, about 1000 live rows a
   transaction, no import key. The first backend also writes the same messages as a
   `mosquitto_sub -F '%U %t %p'` capture through Python's gzip at level 6 (`gzip -6`), counting
   the compressed bytes as they come (the capture itself is not kept).
2. Journal bytes on disk with every message live (MariaDB: ANALYZE TABLE, then data_length +
   index_length of `journal` and `journal_segment` from information_schema; SQLite: the file
   after VACUUM).
3. `project_pass`, then the rebuild from rows (projector.rebuild.rebuild, in a child process).
4. The bare streaming read of the same rows with the same driver (`SELECT seq, received_at,
   topic, payload, qos, retained, import_key FROM journal`, paged by 5000 on the primary key,
   the driver's conversions only), just before sealing.
5. The seal (journal.sealing.seal under the projector lock, up to the checkpoint, cutoff
   `seal_after_days` 2), timed: messages a second against the bare read's rows a second.
6. At rest: MariaDB: ANALYZE, sizes, then OPTIMIZE TABLE journal (InnoDB keeps the pages the
   deleted rows freed for new rows and does not return them to the file until then), ANALYZE,
   sizes again; SQLite: VACUUM, the file's size.
7. The rebuild from segments (child process), timed against the rebuild from rows.
8. The detail page of the largest sealed session: Flask test client of the web app, the first
   (cold) request, then `--requests` more (p50, p95), and the same with the decoded-segment cache
   emptied before each request.
9. Peak memory of both rebuilds at each `--memory-sizes` journal size (fresh databases of that
   many messages, more days generated for the bigger ones): each rebuild in its own process,
   which reads its own VmHWM at the end (the high-water RSS of that process alone; getrusage's
   RUSAGE_CHILDREN would report the largest child so far, not each one).
10. A seal beside `chargelog record`: a private mosquitto on 127.0.0.1 with README's broker
   settings, the recorder as a subprocess, a publisher process sending `--recorder-rate` msg/s
   at QoS 0 as OpenEVSE does (delivered to the recorder at QoS 1), each payload its send time;
   meanwhile a child process seals `--recorder-days` of old traffic in the same database. The
   journal's newest seq is polled every 20 ms (the recorder commits in seq order, then
   acknowledges): a row's commit latency is the first poll that saw its seq minus its send
   time. The stall is the worst latency of a message sent while the seal ran.

At the end, a table of every figure with its goal and PASS/FAIL.
"""

from __future__ import annotations

import argparse
import gzip
import math
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from bisect import bisect_left
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from statistics import median
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest import mysqld_pid, proc_status_kb, settle
from journal import entries, sealing, segments
from journal.migrate import migrate
from journal.storage import Store, open_store, parse_database_url
from simulator.traffic import SimulationSpec, default_chargers, parse_faults, simulate
from tests.services import PrivateBroker, mysql_database

ROOT = Path(__file__).resolve().parent.parent
US = 1_000_000
BATCH = 1000  # rows a transaction, as the recorder's default batch_size
PAGE = 5000  # the bare read's page
SEAL_AFTER_DAYS = 2  # [journal] seal_after_days default
LOAD_TOPIC = "bench-load"
# README.md's broker settings in front of the recorder (persistence aside): with Mosquitto's
# default window of 20 unacknowledged messages a recorder that acknowledges after each commit
# could not take 5,000 msg/s at all.
README_BROKER = (
    "upgrade_outgoing_qos true\nmax_queued_messages 200000\nmax_inflight_messages 1000\n"
)

# Goals of issue 11.
GOAL_BYTES = 3.0
GOAL_VS_GZIP = 0.45
GOAL_SEAL_VS_READ = 0.7
GOAL_REBUILD = {"mysql": 2.0, "sqlite": 1.0}
GOAL_DETAIL_MS = 100.0
GOAL_RSS_MB = 80.0
FLAT = 1.25  # "flat": the biggest size's peak at most 1.25 x the smallest size's...
FLAT_FROM = 1_000_000  # ...of those from 1M messages on ("from 1M to 20M messages")
GOAL_STALL_S = 1.0


# ---- the traffic ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Traffic:
    chargers: int
    firmware: list[str]
    faults: frozenset[str]
    seed: int
    gap_days: int

    def spec(self, days: float) -> SimulationSpec:
        """`days` of traffic ending `gap_days` before the start of today (UTC)."""
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        start = today - timedelta(days=self.gap_days + math.ceil(days))
        chargers = default_chargers(self.chargers, self.firmware, self.seed)
        return SimulationSpec(chargers, start, math.ceil(days), self.seed, self.faults)


@dataclass
class Filled:
    messages: int = 0
    first_us: int = 0
    last_us: int = 0
    seconds: float = 0.0
    capture_bytes: int = 0  # the plain capture's size
    gzip_bytes: int = 0  # its gzip -6

    @property
    def days(self) -> float:
        return (self.last_us - self.first_us) / 86_400 / US


class Counting:
    """A write-only file that only counts what goes through it (gzip's output)."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass


def capture_line(micros: int, topic: str, payload: bytes) -> bytes:
    """A `mosquitto_sub -F '%U %t %p'` line: %U is seconds with nanoseconds."""
    return b"%d.%06d000 %s %s\n" % (micros // US, micros % US, topic.encode(), payload)


def fill(
    store: Store, spec: SimulationSpec, *, limit: int | None = None, capture: bool = False
) -> Filled:
    """The simulated stream into the journal as the recorder writes it: live rows, one
    transaction per BATCH, QoS 0 as OpenEVSE publishes; optionally its capture through gzip -6."""
    result = Filled()
    sink = Counting()
    zipped = gzip.GzipFile(fileobj=sink, mode="wb", compresslevel=6, mtime=0) if capture else None
    lines: list[bytes] = []
    batch: list[entries.Row] = []
    started = time.perf_counter()
    for message in simulate(spec).messages():
        micros = round(message.ts * US)
        batch.append(
            (entries.micros_text(micros), message.topic, message.payload, 0, int(message.retained))
        )
        if zipped is not None:
            lines.append(capture_line(micros, message.topic, message.payload))
        result.first_us = result.first_us or micros
        result.last_us = micros
        result.messages += 1
        full = limit is not None and result.messages >= limit
        if len(batch) >= BATCH or full:
            entries.append(store, batch)
            store.commit()
            batch.clear()
            if zipped is not None and (len(lines) >= 20 * BATCH or full):
                _write_capture(zipped, lines, result)
        if full:
            break
    if batch:
        entries.append(store, batch)
        store.commit()
    if zipped is not None:
        _write_capture(zipped, lines, result)
        zipped.close()
        result.gzip_bytes = sink.size
    result.seconds = time.perf_counter() - started
    return result


def _write_capture(zipped: gzip.GzipFile, lines: list[bytes], result: Filled) -> None:
    data = b"".join(lines)
    result.capture_bytes += len(data)
    zipped.write(data)
    lines.clear()


# ---- bytes on disk --------------------------------------------------------------------------


JOURNAL_TABLES = ("journal", "journal_segment")


def mysql_sizes(store: Store) -> dict[str, tuple[int, int]]:
    """(data_length, index_length) of the journal's tables, after ANALYZE TABLE refreshed them."""
    store.query(f"ANALYZE TABLE {', '.join(JOURNAL_TABLES)}")
    rows = store.query(
        "SELECT table_name, data_length, index_length FROM information_schema.TABLES "
        "WHERE table_schema = DATABASE() AND table_name IN (?, ?)",
        JOURNAL_TABLES,
    )
    store.rollback()
    return {str(r[0]): (int(r[1]), int(r[2])) for r in rows}


def sqlite_sizes(path: str) -> tuple[int, dict[str, int]]:
    """The file's size after VACUUM (WAL checkpointed into it), and each journal table's bytes
    in it (dbstat, where the library has it; tables and their indexes together)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        parts: dict[str, int] = {}
        try:
            for name, size in conn.execute(
                "SELECT CASE WHEN s.name IN ('journal', 'journal_segment') THEN s.name "
                "ELSE COALESCE(m.tbl_name, s.name) END, SUM(s.pgsize) FROM dbstat AS s "
                "LEFT JOIN sqlite_master AS m ON m.name = s.name GROUP BY 1"
            ):
                parts[name] = parts.get(name, 0) + int(size)
        except sqlite3.OperationalError:
            pass  # no dbstat in this build
    finally:
        conn.close()
    wal = Path(path + "-wal")
    return os.path.getsize(path) + (wal.stat().st_size if wal.exists() else 0), parts


def mysql_total(sizes: dict[str, tuple[int, int]]) -> int:
    return sum(data + index for data, index in sizes.values())


def show_mysql(label: str, sizes: dict[str, tuple[int, int]], messages: int) -> None:
    parts = "; ".join(
        f"{name} {data / 1e6:,.2f} MB data + {index / 1e6:,.2f} MB index"
        for name, (data, index) in sorted(sizes.items())
    )
    total = mysql_total(sizes)
    print(f"   {label}: {total / 1e6:,.2f} MB = {total / messages:.2f} B/msg ({parts})")


def show_sqlite(label: str, size: int, parts: dict[str, int], messages: int) -> None:
    detail = ", ".join(
        f"{name} {parts.get(name, 0) / 1e6:,.2f} MB" for name in JOURNAL_TABLES if parts
    )
    other = sum(v for k, v in parts.items() if k not in JOURNAL_TABLES)
    extra = f" (of which {detail}, the rest {other / 1e6:,.2f} MB)" if parts else ""
    print(f"   {label}: file {size / 1e6:,.2f} MB = {size / messages:.2f} B/msg{extra}")


# ---- child processes: rebuild, seal ---------------------------------------------------------


def child_rebuild(url: str) -> None:
    """The rebuild's child: the whole journal into fresh tables and the swap, under the lock."""
    import projector.rebuild as rebuild_module
    from projector.catchup import projector_lock

    with open_store(url) as store, projector_lock(store, 60):
        start_kb = proc_status_kb(os.getpid(), "VmRSS")
        started = time.perf_counter()
        result, diff = rebuild_module.rebuild(store)
        seconds = time.perf_counter() - started
    print(diff.summary())
    print(f"{result.entries} {seconds:.6f} {proc_status_kb(os.getpid(), 'VmHWM')} {start_kb}")


def child_seal(url: str) -> None:
    """The seal's child (beside the recorder): prints its start and end (epoch) and count."""
    with open_store(url) as store:
        report, started, finished = seal_now(store)
    print(f"{started:.6f} {finished:.6f} {report.messages} {report.segments}")


@dataclass
class Rebuilt:
    entries: int
    seconds: float
    peak_kb: int
    start_kb: int
    summary: str

    @property
    def rate(self) -> float:
        return self.entries / self.seconds if self.seconds else 0.0


def run_child(*args: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, cwd=ROOT
    )
    if result.returncode != 0:
        raise RuntimeError(f"{args[0]} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result.stdout.strip().splitlines()


def timed_rebuild(url: str) -> Rebuilt:
    lines = run_child("_rebuild", url)
    count, seconds, peak, start = lines[-1].split()
    return Rebuilt(int(count), float(seconds), int(peak), int(start), " ".join(lines[:-1]))


# ---- the bare read and the seal -------------------------------------------------------------


BARE_SQL = (
    "SELECT seq, received_at, topic, payload, qos, retained, import_key FROM journal "
    "WHERE seq > {p} ORDER BY seq LIMIT {p}"
)


def bare_read(url: str) -> tuple[int, float]:
    """Every live row, paged on the primary key, with the driver the store uses (its own
    conversions only); rows and seconds."""
    target = parse_database_url(url)
    rows = after = 0
    if target.dialect == "sqlite":
        started = time.perf_counter()
        conn: Any = sqlite3.connect(target.path)
        cursor = conn.cursor()
        sql = BARE_SQL.format(p="?")
    else:
        import mysql.connector

        started = time.perf_counter()
        conn = mysql.connector.connect(**target.connect_args())
        cursor = conn.cursor()
        sql = BARE_SQL.format(p="%s")
    while True:
        cursor.execute(sql, (after, PAGE))
        page = cursor.fetchall()
        if not page:
            break
        rows += len(page)
        after = page[-1][0]
    seconds = time.perf_counter() - started
    conn.close()
    return rows, seconds


def seal_now(store: Store) -> tuple[sealing.SealReport, float, float]:
    """Seal what is due, as `chargelog seal` does: under the projector lock, up to the
    checkpoint; returns the report and when the seal started and ended (epoch seconds)."""
    from projector.catchup import projector_lock
    from projector.readings import PROJECTED_KEYS
    from projector.runner import LIVE
    from projector.tables import read_checkpoint

    with projector_lock(store, 60):
        checkpoint = read_checkpoint(store, LIVE)
        store.rollback()
        cutoff = sealing.cutoff(int(time.time() * US), SEAL_AFTER_DAYS)
        started = time.time()
        report = sealing.seal(
            store,
            position=checkpoint.position if checkpoint else 0,
            before_us=cutoff,
            replayed_keys=PROJECTED_KEYS,
        )
        return report, started, time.time()


def live_rows(store: Store) -> int:
    row = store.query_one("SELECT COUNT(*) FROM journal")
    store.rollback()
    return int(row[0]) if row else 0


# ---- the detail page ------------------------------------------------------------------------


@dataclass
class Page:
    session: int = 0
    status: int = 0
    size: int = 0
    cold_ms: float = 0.0
    p50: float = 0.0
    p95: float = 0.0
    cold_p50: float = 0.0
    cold_p95: float = 0.0
    note: str = ""


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)] if ordered else 0.0


def detail_page(url: str, requests: int) -> Page:
    """The largest sealed session's page through the Flask test client."""
    from journal.config import Config, DatabaseConfig
    from webapp import create_app

    cache: Any = None
    with suppress(ImportError):  # without a decoded-segment cache every request is a cold one
        from webapp.sealed import CACHE as cache
    page = Page()
    with open_store(url) as store:
        row = store.query_one(
            "SELECT id FROM plugin_session WHERE cycle_count > 0 ORDER BY energy_wh DESC LIMIT 1"
        )
        store.rollback()
    if row is None:
        page.note = "no session with a cycle"
        return page
    page.session = int(row[0])
    app = create_app(Config(database=DatabaseConfig(url=url)))
    client = app.test_client()
    path = f"/sessions/{page.session}"

    def get() -> float:
        started = time.perf_counter()
        response = client.get(path)
        ms = (time.perf_counter() - started) * 1000
        page.status, page.size = response.status_code, len(response.data)
        if response.status_code != 200 or b"damaged" in response.data:
            page.note = f"HTTP {response.status_code}" + (
                ", a damaged segment" if b"damaged" in response.data else ""
            )
        return ms

    if cache is not None:
        cache.clear()
    page.cold_ms = get()
    warm = [get() for _ in range(requests)]
    page.p50, page.p95 = median(warm), percentile(warm, 0.95)
    if cache is not None:
        cold = []
        for _ in range(requests):
            cache.clear()
            cold.append(get())
        page.cold_p50, page.cold_p95 = median(cold), percentile(cold, 0.95)
    return page


# ---- a seal beside the recorder -------------------------------------------------------------


def child_publish(port: int, rate: float) -> None:
    """Publish at `rate` messages a second until SIGTERM, at QoS 0 as OpenEVSE does (the broker
    delivers them at the recorder's QoS 1: upgrade_outgoing_qos); each payload is its send time.
    Behind schedule (a busy machine), it sends what is due at once and stamps the real time."""
    import paho.mqtt.client as mqtt

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"footprint-pub-{os.getpid()}")
    client.connect("127.0.0.1", port, 60)
    client.loop_start()
    topics = [f"{LOAD_TOPIC}/{key}" for key in ("amp", "voltage", "temp", "wh", "state")]
    sent = 0
    started = time.monotonic()
    last = None
    while not stop.is_set():
        due = int((time.monotonic() - started) * rate)
        while sent < due:
            last = client.publish(topics[sent % len(topics)], b"%.6f" % time.time(), qos=0)
            sent += 1
        time.sleep(0.002)
    seconds = time.monotonic() - started
    if last is not None:
        last.wait_for_publish(30)
    client.disconnect()
    client.loop_stop()
    print(f"{sent} {seconds:.3f}")


@dataclass
class Beside:
    old_messages: int = 0
    sealed: int = 0
    seal_s: float = 0.0
    published: int = 0
    rate: float = 0.0
    committed: int = 0
    phases: dict[str, tuple[int, float, float]] = field(default_factory=dict)  # n, p99, max
    longest_poll_gap: float = 0.0
    note: str = ""

    @property
    def during_rate(self) -> float:
        count = self.phases.get("during the seal", (0, 0.0, 0.0))[0]
        return count / self.seal_s if self.seal_s else 0.0

    @property
    def stall(self) -> float:
        return self.phases.get("during the seal", (0, 0.0, 0.0))[2]


class Poller(threading.Thread):
    """The journal's newest seq every `every` seconds, with the time it was seen."""

    def __init__(self, url: str, every: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.url, self.every = url, every
        self.seen: list[tuple[float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        target = parse_database_url(self.url)
        if target.dialect == "sqlite":
            conn: Any = sqlite3.connect(target.path, isolation_level=None)
            sql = "SELECT COALESCE(MAX(seq), 0) FROM journal"
        else:
            import mysql.connector

            conn = mysql.connector.connect(**target.connect_args(), autocommit=True)
            sql = "SELECT COALESCE(MAX(seq), 0) FROM journal"
        cursor = conn.cursor()
        while not self.stop.is_set():
            cursor.execute(sql)
            top = int(cursor.fetchone()[0])
            self.seen.append((time.time(), top))
            time.sleep(self.every)
        conn.close()


def beside_recorder(
    url: str, traffic: Traffic, days: float, rate: float, workdir: Path, baseline: float
) -> Beside:
    """`--recorder-days` of old traffic, projected; then the recorder takes `rate` msg/s while a
    child process seals the old days; commit latencies before, during and after the seal."""
    from projector.runner import project_pass

    out = Beside()
    with open_store(url) as store:
        migrate(store)
        out.old_messages = fill(store, traffic.spec(days)).messages
        project_pass(store)
        start_top = entries.last_live_seq(store)
        store.rollback()
    settle([mysqld_pid()])  # MariaDB done with the work before (purge, flushing), at most 15 s
    broker = PrivateBroker(workdir / "broker", persistence=False, extra=README_BROKER)
    broker.start()
    config = workdir / "recorder.ini"
    config.write_text(
        "[mqtt]\nhost = 127.0.0.1\n"
        f"port = {broker.port}\nclient_id = footprint-recorder\ntopics = {LOAD_TOPIC}/#\n"
        f"[database]\nurl = {url}\n"
        f"[recorder]\nspool_path = {workdir / 'recorder.spool'}\n"
    )
    log = (workdir / "recorder.log").open("wb")
    recorder = subprocess.Popen(
        [sys.executable, "-m", "chargelog.cli", "--config", str(config), "record"],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    poller = Poller(url)
    publisher: subprocess.Popen[str] | None = None
    try:
        _wait_subscribed(broker.port, url, start_top)
        poller.start()
        publisher = subprocess.Popen(
            [sys.executable, __file__, "_publish", str(broker.port), str(rate)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        time.sleep(baseline)
        first, last, sealed, _ = run_child("_seal", url)[-1].split()
        seal_start, seal_end, out.sealed = float(first), float(last), int(sealed)
        out.seal_s = seal_end - seal_start
        time.sleep(baseline)
        publisher.send_signal(signal.SIGTERM)
        stdout, _ = publisher.communicate(timeout=60)
        sent, seconds = stdout.split()
        out.published, out.rate = int(sent), int(sent) / float(seconds)
        _wait_settled(poller)
    finally:
        poller.stop.set()
        if publisher is not None and publisher.poll() is None:
            publisher.kill()
        recorder.send_signal(signal.SIGTERM)
        try:
            recorder.wait(timeout=30)
        except subprocess.TimeoutExpired:
            recorder.kill()
        log.close()
        broker.stop()
    poller.join(timeout=5)
    _latencies(url, start_top, poller.seen, seal_start, seal_end, out)
    return out


def _wait_subscribed(port: int, url: str, start_top: int, timeout: float = 30.0) -> None:
    """Publish pings until the recorder has journaled one: it is connected and subscribed."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="footprint-ping")
    client.connect("127.0.0.1", port, 60)
    client.loop_start()
    deadline = time.monotonic() + timeout
    try:
        with open_store(url) as store:
            while time.monotonic() < deadline:
                client.publish(f"{LOAD_TOPIC}/ping", b"%.6f" % time.time(), qos=1).wait_for_publish(
                    5
                )
                time.sleep(0.3)
                if entries.last_live_seq(store) > start_top:
                    store.rollback()
                    return
                store.rollback()
    finally:
        client.disconnect()
        client.loop_stop()
    raise TimeoutError("the recorder journaled nothing")


def _wait_settled(poller: Poller, quiet: float = 2.0, timeout: float = 60.0) -> None:
    """Until the newest seq has not moved for `quiet` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(quiet)
        recent = [top for at, top in poller.seen if at > time.time() - quiet]
        if recent and recent[0] == recent[-1]:
            return


def _latencies(
    url: str,
    start_top: int,
    seen: list[tuple[float, int]],
    seal_start: float,
    seal_end: float,
    out: Beside,
) -> None:
    tops = [top for _, top in seen]
    with open_store(url) as store:
        rows = store.query(
            "SELECT seq, payload FROM journal WHERE seq > ? AND topic <> ? ORDER BY seq",
            (start_top, f"{LOAD_TOPIC}/ping"),
        )
        store.rollback()
    out.committed = len(rows)
    if out.committed != out.published:
        out.note = f"{out.committed} journaled of {out.published} published"
    phases: dict[str, list[float]] = {"before the seal": [], "during the seal": [], "after": []}
    for seq, payload in rows:
        sent = float(bytes(payload))
        index = bisect_left(tops, seq)
        if index == len(seen):
            continue
        latency = seen[index][0] - sent
        name = (
            "before the seal"
            if sent < seal_start
            else "during the seal"
            if sent <= seal_end
            else "after"
        )
        phases[name].append(latency)
    out.phases = {
        name: (len(values), percentile(values, 0.99), max(values, default=0.0))
        for name, values in phases.items()
    }
    out.longest_poll_gap = max((b[0] - a[0] for a, b in pairwise(seen)), default=0.0)


# ---- one backend ----------------------------------------------------------------------------


@contextmanager
def database(backend: str, workdir: Path, name: str) -> Iterator[str]:
    if backend == "sqlite":
        path = workdir / f"{name}.db"
        yield f"sqlite:///{path}"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        with mysql_database() as url:
            yield url


@dataclass
class Result:
    backend: str
    filled: Filled = field(default_factory=Filled)
    live_bytes: int = 0
    sealed_bytes: int = 0  # at rest (after OPTIMIZE on MariaDB, VACUUM on SQLite)
    before_optimize: int = 0
    segments: int = 0
    block_bytes: int = 0
    sealed_messages: int = 0
    left_live: int = 0
    project_s: float = 0.0
    read_rate: float = 0.0
    seal_rate: float = 0.0
    seal_bound: float = 0.0  # the most any seal could reach: bare read / (bare read + writing)
    from_rows: Rebuilt | None = None
    from_segments: Rebuilt | None = None
    page: Page = field(default_factory=Page)
    memory: list[tuple[int, Rebuilt, Rebuilt]] = field(default_factory=list)
    beside: Beside | None = None


def measure_sizes(backend: str, url: str, store: Store, messages: int, label: str) -> int:
    if backend == "mysql":
        sizes = mysql_sizes(store)
        show_mysql(label, sizes, messages)
        return mysql_total(sizes)
    store.rollback()
    size, parts = sqlite_sizes(parse_database_url(url).path)
    show_sqlite(label, size, parts, messages)
    return size


def run_backend(
    backend: str, args: argparse.Namespace, traffic: Traffic, workdir: Path, gz: Filled | None
) -> Result:
    from projector.runner import project_pass

    out = Result(backend)
    say = lambda text: print(f"[{backend}] {text}", flush=True)  # noqa: E731
    with database(backend, workdir, "main") as url:
        with open_store(url) as store:
            migrate(store)
            out.filled = fill(store, traffic.spec(args.days), capture=gz is None)
            n = out.filled.messages
            say(
                f"{n:,} messages, {out.filled.days:.1f} days of {args.chargers} chargers, "
                f"journaled in {out.filled.seconds:.0f} s ({n / out.filled.seconds:,.0f} msg/s, "
                f"batches of {BATCH})"
            )
            out.live_bytes = measure_sizes(backend, url, store, n, "journal, all live")
            started = time.perf_counter()
            project_pass(store)
            out.project_s = time.perf_counter() - started
            say(f"project_pass: {out.project_s:.1f} s ({n / out.project_s:,.0f} msg/s)")
        out.from_rows = median_rebuild(url, args.rounds)
        say(
            f"rebuild from rows: {out.from_rows.seconds:.2f} s ({out.from_rows.rate:,.0f} msg/s), "
            f"peak RSS {out.from_rows.peak_kb / 1024:.1f} MB; {out.from_rows.summary}"
        )
        reads = [bare_read(url) for _ in range(args.rounds)]
        rows, seconds = sorted(reads, key=lambda r: r[1])[len(reads) // 2]
        if rows != n:
            raise RuntimeError(f"the bare read saw {rows} rows of {n}")
        out.read_rate = rows / seconds
        say(f"bare read: {rows:,} rows in {seconds:.2f} s ({out.read_rate:,.0f} rows/s)")
        with open_store(url) as store:
            report, started_at, finished_at = seal_now(store)
            seal_s = finished_at - started_at
            out.seal_rate = report.messages / seal_s
            say(
                f"seal: {report.summary()} in {seal_s:.2f} s ({out.seal_rate:,.0f} msg/s); "
                f"seal/read {out.seal_rate / out.read_rate:.2f}"
            )
            # The database's own part (segments written, rows deleted, commits) bounds any seal
            # that reads the rows at least as fast as the bare read: bare / (bare + writing).
            out.seal_bound = seconds / (seconds + report.write_s)
            say(
                f"   of which reading {report.read_s:.2f} s, encoding and checking "
                f"{report.encode_s:.2f} s, writing segments, deleting rows and committing "
                f"{report.write_s:.2f} s: no seal that reads like the bare read and writes like "
                f"this could beat {out.seal_bound:.2f}x the bare read"
            )
            totals = segments.totals(store)
            out.left_live = live_rows(store)
            out.segments, out.block_bytes = totals.segments, totals.block_bytes
            out.sealed_messages = totals.messages
            if out.sealed_messages + out.left_live != n:
                raise RuntimeError(
                    f"{out.sealed_messages} sealed + {out.left_live} live != {n} messages"
                )
            say(
                f"{totals.segments} segments hold {totals.messages:,} messages in "
                f"{totals.block_bytes / 1e6:,.2f} MB of blocks "
                f"({totals.block_bytes / totals.messages:.2f} B/msg); {out.left_live} live rows"
            )
            if backend == "mysql":
                out.before_optimize = measure_sizes(
                    backend, url, store, n, "at rest before OPTIMIZE"
                )
                print(
                    "   (InnoDB keeps the pages freed by the deleted rows for new rows: the "
                    "file and data_length shrink only after OPTIMIZE TABLE)"
                )
                store.query("OPTIMIZE TABLE journal")
                store.rollback()
                out.sealed_bytes = measure_sizes(
                    backend, url, store, n, "at rest after OPTIMIZE TABLE journal"
                )
            else:
                out.sealed_bytes = measure_sizes(backend, url, store, n, "at rest after VACUUM")
        out.from_segments = median_rebuild(url, args.rounds)
        say(
            f"rebuild from segments: {out.from_segments.seconds:.2f} s "
            f"({out.from_segments.rate:,.0f} msg/s), peak RSS "
            f"{out.from_segments.peak_kb / 1024:.1f} MB; {out.from_segments.summary}; "
            f"{out.from_rows.seconds / out.from_segments.seconds:.2f}x the rebuild from rows"
        )
        out.page = detail_page(url, args.requests)
        p = out.page
        say(
            f"detail page /sessions/{p.session} (all sealed): HTTP {p.status}, {p.size:,} bytes; "
            f"first request {p.cold_ms:.1f} ms; next {args.requests}: p50 {p.p50:.1f} ms, "
            f"p95 {p.p95:.1f} ms; with the segment cache emptied each time: p50 "
            f"{p.cold_p50:.1f} ms, p95 {p.cold_p95:.1f} ms" + (f"  !! {p.note}" if p.note else "")
        )
    per_day = out.filled.messages / max(out.filled.days, 1e-9)
    for size in args.memory_sizes:
        with database(backend, workdir, f"mem{size}") as url:
            with open_store(url) as store:
                migrate(store)
                filled = fill(store, traffic.spec(size / per_day * 1.05 + 1), limit=size)
            rows_run = timed_rebuild(url)
            with open_store(url) as store:
                seal_now(store)
            segments_run = timed_rebuild(url)
        out.memory.append((filled.messages, rows_run, segments_run))
        say(
            f"{filled.messages:,} messages: rebuild from rows {rows_run.seconds:.1f} s, peak "
            f"{rows_run.peak_kb / 1024:.1f} MB; from segments {segments_run.seconds:.1f} s, "
            f"peak {segments_run.peak_kb / 1024:.1f} MB (interpreter and modules before the "
            f"rebuild: {segments_run.start_kb / 1024:.1f} MB)"
        )
    if args.recorder:
        with database(backend, workdir, "beside") as url:
            beside_dir = workdir / f"beside-{backend}"
            beside_dir.mkdir()
            out.beside = beside_recorder(
                url, traffic, args.recorder_days, args.recorder_rate, beside_dir, args.baseline
            )
        b = out.beside
        say(
            f"recorder beside a seal: {b.published:,} messages published at "
            f"{b.rate:,.0f} msg/s ({b.during_rate:,.0f} msg/s while the seal ran), "
            f"{b.committed:,} journaled; the seal of {b.sealed:,} old messages took "
            f"{b.seal_s:.1f} s" + (f"  !! {b.note}" if b.note else "")
        )
        for name, (count, p99, worst) in b.phases.items():
            print(
                f"   commit latency, messages sent {name}: {count:,}, p99 {p99 * 1000:.0f} ms, "
                f"max {worst * 1000:.0f} ms"
            )
        print(
            f"   (polled every 20 ms; longest gap between polls {b.longest_poll_gap * 1000:.0f} ms)"
        )
    return out


def median_rebuild(url: str, rounds: int) -> Rebuilt:
    runs = [timed_rebuild(url) for _ in range(rounds)]
    return sorted(runs, key=lambda r: r.seconds)[len(runs) // 2]


# ---- the report -----------------------------------------------------------------------------


def verdict(good: bool) -> str:
    return "PASS" if good else "FAIL"


def final_table(results: list[Result], gz: Filled) -> None:
    per_gzip = gz.gzip_bytes / gz.messages
    print(
        f"\ncapture (mosquitto_sub -F '%U %t %p'): {gz.messages:,} messages, "
        f"{gz.capture_bytes / 1e6:,.1f} MB plain ({gz.capture_bytes / gz.messages:.1f} B/msg), "
        f"{gz.gzip_bytes / 1e6:,.2f} MB gzip -6 ({per_gzip:.2f} B/msg)"
    )
    rows: list[tuple[str, ...]] = []
    for r in results:
        n = r.filled.messages
        sealed = r.sealed_bytes / n
        b = r.backend
        rows += [
            (b, "journal on disk, all live", f"{r.live_bytes / n:.1f} B/msg", "", ""),
            (b, "gzip -6 of the capture", f"{per_gzip:.2f} B/msg", "", ""),
            (b, "segment blocks alone", f"{r.block_bytes / n:.2f} B/msg", "", ""),
            (
                b,
                "sealed, at rest",
                f"{sealed:.2f} B/msg",
                f"<= {GOAL_BYTES:g}",
                verdict(sealed <= GOAL_BYTES),
            ),
            (
                b,
                "sealed / gzip -6",
                f"{sealed / per_gzip:.3f}",
                f"<= {GOAL_VS_GZIP}",
                verdict(sealed / per_gzip <= GOAL_VS_GZIP),
            ),
            (
                b,
                "sealed / live rows",
                f"{r.sealed_bytes / r.live_bytes:.4f} "
                f"({r.live_bytes / r.sealed_bytes:.0f}x smaller)",
                "",
                "",
            ),
        ]
        if b == "mysql":
            rows.append(
                (b, "sealed, before OPTIMIZE", f"{r.before_optimize / n:.2f} B/msg", "", "")
            )
        ratio = r.seal_rate / r.read_rate
        rows.append(
            (
                b,
                "seal / bare read",
                f"{ratio:.2f} ({r.seal_rate:,.0f} vs {r.read_rate:,.0f}/s; "
                f"bound {r.seal_bound:.2f})",
                f">= {GOAL_SEAL_VS_READ}",
                verdict(ratio >= GOAL_SEAL_VS_READ),
            )
        )
        assert r.from_rows and r.from_segments
        speedup = r.from_rows.seconds / r.from_segments.seconds
        goal = GOAL_REBUILD[b]
        rows.append(
            (
                b,
                "rebuild segments vs rows",
                f"{speedup:.2f}x ({r.from_segments.seconds:.1f} s vs {r.from_rows.seconds:.1f} s)",
                f">= {goal:g}x",
                verdict(speedup >= goal),
            )
        )
        points = [(n, r.from_rows, r.from_segments), *r.memory]
        points.sort(key=lambda p: p[0])
        for label, which in (("rows", 1), ("segments", 2)):
            peaks = [(p[1] if which == 1 else p[2]).peak_kb / 1024 for p in points]
            shown = ", ".join(
                f"{count_text(p[0])} {peak:.0f} MB" for p, peak in zip(points, peaks, strict=True)
            )
            judged = which == 2
            rows.append(
                (
                    b,
                    f"rebuild peak RSS ({label})",
                    shown,
                    f"< {GOAL_RSS_MB:g} MB" if judged else "",
                    verdict(max(peaks) < GOAL_RSS_MB) if judged else "",
                )
            )
        # Flat in the journal's size from 1M messages on, as the issue states it (a smaller
        # journal holds less than the day a segment rebuild decodes at once).
        big = [p[2].peak_kb / 1024 for p in points if p[0] >= FLAT_FROM]
        over = f"from {count_text(FLAT_FROM)}"
        if len(big) < 2:
            big, over = [p[2].peak_kb / 1024 for p in points], "over all sizes"
        if len(big) > 1:
            rows.append(
                (
                    b,
                    f"  flat {over}: biggest / smallest",
                    f"{big[-1] / big[0]:.2f}",
                    f"<= {FLAT}",
                    verdict(big[-1] / big[0] <= FLAT),
                )
            )
        rows.append(
            (
                b,
                "detail page, sealed, p95",
                f"{r.page.p95:.1f} ms (cache emptied: {r.page.cold_p95:.1f})",
                f"< {GOAL_DETAIL_MS:g} ms",
                verdict(r.page.p95 < GOAL_DETAIL_MS and not r.page.note),
            )
        )
        if r.beside is not None:
            stall = r.beside.stall
            rows.append(
                (
                    b,
                    "recorder stall beside a seal",
                    f"{stall * 1000:.0f} ms max at {r.beside.rate:,.0f} msg/s",
                    f"< {GOAL_STALL_S:g} s",
                    verdict(stall < GOAL_STALL_S and not r.beside.note),
                )
            )
    header = ("backend", "figure", "measured", "goal", "")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(5)]
    print()
    for row in [header, *rows]:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def count_text(count: int) -> str:
    """1,977,346 -> '2.0M', 200,000 -> '200k'."""
    return f"{count / 1e6:.1f}M" if count >= 1_000_000 else f"{count / 1e3:.0f}k"


def sizes(text: str) -> list[int]:
    """'200k,1M' -> [200000, 1000000]; '0' or '' -> []."""
    out = []
    for item in text.replace("_", "").split(","):
        item = item.strip().lower()
        if not item or item == "0":
            continue
        scale = {"k": 1_000, "m": 1_000_000}.get(item[-1], 1)
        out.append(int(float(item.rstrip("km")) * scale))
    return out


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        children: dict[str, Callable[..., None]] = {
            "_rebuild": child_rebuild,
            "_seal": child_seal,
            "_publish": lambda port, rate: child_publish(int(port), float(rate)),
        }
        children[sys.argv[1]](*sys.argv[2:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "mysql", "both"), default="both")
    parser.add_argument("--days", type=float, default=14.0, help="days of traffic (14)")
    parser.add_argument("--chargers", type=int, default=2, help="how many chargers (2)")
    parser.add_argument("--firmware", default="5.x,2.x", help="cycled over the chargers (5.x,2.x)")
    parser.add_argument(
        "--faults", default="all", help="simulator faults: all (default), none or a list"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--gap-days", type=int, default=3, help="the traffic ends this many days before today (3)"
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="bare reads and rebuilds of each kind, median (1)"
    )
    parser.add_argument("--requests", type=int, default=50, help="detail page requests (50)")
    parser.add_argument(
        "--memory-sizes",
        type=sizes,
        default=sizes("200k,1M"),
        help="journal sizes for the rebuilds' peak memory, e.g. 1M,20M; 0 for none (200k,1M)",
    )
    parser.add_argument(
        "--recorder",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run the seal beside `chargelog record`",
    )
    parser.add_argument("--recorder-rate", type=float, default=5000.0, help="msg/s (5000)")
    parser.add_argument(
        "--recorder-days", type=float, default=2.0, help="old days sealed beside it (2)"
    )
    parser.add_argument(
        "--baseline", type=float, default=5.0, help="seconds of load before and after the seal (5)"
    )
    args = parser.parse_args()
    from simulator.model import FIRMWARES, parse_list

    traffic = Traffic(
        args.chargers,
        parse_list(args.firmware, FIRMWARES, "firmware"),
        parse_faults(args.faults),
        args.seed,
        args.gap_days,
    )
    backends = ["mysql", "sqlite"] if args.backend == "both" else [args.backend]
    started = time.monotonic()
    print(
        f"chargelog footprint: {args.days:g} days of {args.chargers} chargers "
        f"({args.firmware}, faults {args.faults}), ending {args.gap_days} days before today; "
        f"{os.cpu_count()} CPUs"
    )
    results: list[Result] = []
    failed: list[str] = []
    gz: Filled | None = None
    with tempfile.TemporaryDirectory(prefix="chargelog-footprint-") as tmp:
        for backend in backends:
            try:
                result = run_backend(backend, args, traffic, Path(tmp), gz)
            except Exception:  # the other backend's figures are still worth printing
                traceback.print_exc()
                failed.append(backend)
                continue
            gz = gz or result.filled
            results.append(result)
    if gz is not None:
        final_table(results, gz)
    for backend in failed:
        print(f"{backend}: did not finish (see the error above): FAIL")
    print(f"\ntotal {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
