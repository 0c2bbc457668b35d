"""Ingest benchmark: how fast does `chargelog record` commit MQTT messages into MariaDB, compared
with the fastest a Python MQTT client can merely receive them?

    python bench/ingest.py                          # 100,000 messages, every scenario, < ~3 min
    python bench/ingest.py --messages 20000 --scenarios recommended
    python bench/ingest.py --batch-size 2000 --flush-interval 0.05   # recorder tuning knobs

What one run does, per scenario (each on a fresh private mosquitto and a fresh MariaDB database):

1. Starts a private mosquitto listening on 127.0.0.1 only, with the scenario's settings.
2. Creates two persistent sessions, one for each consumer, and subscribes each once (QoS 1) to
   `openevse-ab12/#`; then both disconnect.  The broker now queues, for each of them separately,
   everything published to those topics.
3. Publishes the whole backlog (N QoS 1 messages, OpenEVSE-like: `openevse-ab12/amp 31950`,
   `openevse-ab12/voltage 240`, ...) with several `mosquitto_pub -l -q 1` processes, one a topic.
   Both consumers are offline, so publishing is not measured and cannot be the bottleneck.
4. Drains consumer (a), a bare paho-mqtt subscriber (QoS 1, automatic acks, `loop_forever`) that
   only counts: the ceiling for a Python client.  It runs as its own process and times its first
   and its N-th message.
5. Drains consumer (b), `python -m chargelog.cli --config X record` as a real subprocess into
   MariaDB.  The benchmark polls `MAX(seq)` of the journal (one writer, so it equals the row count)
   every 20 ms and times the first committed row and the N-th; it then reads the recorder's peak
   RSS (VmHWM in /proc/PID/status) before stopping it with SIGTERM, and checks COUNT(*) == N.

Why this is fair to both consumers: both drain the very same backlog of the very same broker
process, with the same settings (in-flight window, queue limit), the same protocol version and,
on MQTT 5, the same Receive Maximum; neither competes with a publisher for the two CPU cores,
and the rate of each is the number of messages between its first and last message divided by the
time between them (start-up, connection and subscription are excluded for both).  The only
difference is the work each does per message, which is exactly what the ratio measures: the
recorder must also commit every row to MariaDB before it acknowledges it, while the bare
subscriber acknowledges at once.  The one deviation from "default" broker settings is
`max_queued_messages`, raised in every scenario to hold the backlog (with the default of 1000 the
broker would drop all but 1000 of the messages published while the consumers are offline); it does
not limit a consumer that is online and draining.

Scenarios (`--scenarios`, comma-separated; default: all of them):

- `default`: Mosquitto defaults (max_inflight_messages 20), recorder on MQTT 3.1.1, its default.
- `default-v5`: Mosquitto defaults, recorder (and bare subscriber) on MQTT 5 with
  [mqtt] receive_maximum = --receive-maximum: Mosquitto 2.0 honours a client's Receive Maximum
  even above its max_inflight_messages (the probe printed for each broker shows it).
- `recommended`: the broker settings this benchmark recommends (RECOMMENDED_BROKER below), recorder
  on MQTT 5 with the same Receive Maximum.
- `recommended-v311`: the recommended broker settings with a recorder on MQTT 3.1.1.

Everything is bounded in time (`--drain-timeout`, `--budget`); the run stops by itself, kills
what it started, and drops the database it created.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEVICE = "openevse-ab12"
TOPIC_FILTER = f"{DEVICE}/#"
RECORDER_CLIENT_ID = "bench-recorder"
BARE_CLIENT_ID = "bench-bare"
SESSION_EXPIRY = 3600

# Broker settings shared by every scenario: loopback only, no disk, and a queue that holds the
# whole backlog (see the module docstring).
BASE_BROKER = "allow_anonymous true\npersistence false\n"
# What we recommend for the broker in front of the recorder.
RECOMMENDED_BROKER = (
    # MQTT 3.1.1 clients: let up to 1000 unacknowledged messages be in flight (default 20). Keep
    # it bounded (0 = unlimited would push a whole offline backlog into the client's memory).
    # MQTT 5 clients get their own Receive Maximum instead.
    "max_inflight_messages 1000\n"
    # Per offline/slow client: rate x the longest outage you want to bridge (default 1000).
    "max_queued_messages 1000000\n"
)

SCENARIOS = {
    # name: (broker settings, protocol)
    "default": ("", "3.1.1"),
    "default-v5": ("", "5"),
    "recommended": (RECOMMENDED_BROKER, "5"),
    "recommended-v311": (RECOMMENDED_BROKER, "3.1.1"),
}


# ---- OpenEVSE-like traffic -----------------------------------------------------------------


def _payloads(rng: random.Random) -> dict[str, object]:
    """A topic -> payload generator, as an OpenEVSE WiFi module publishes them."""
    return {
        "amp": lambda: str(rng.randint(0, 32000)),
        "voltage": lambda: str(rng.choice((230, 231, 238, 240, 241))),
        "pilot": lambda: str(rng.choice((6, 16, 24, 32))),
        "temp": lambda: f"{rng.uniform(18, 45):.1f}",
        "state": lambda: str(rng.choice((1, 2, 3, 3, 3, 254))),
        "wh": lambda: f"{rng.uniform(0, 60000):.2f}",
        "session_energy": lambda: f"{rng.uniform(0, 40000):.1f}",
        "srssi": lambda: str(rng.randint(-90, -40)),
        "freeram": lambda: str(rng.randint(150000, 200000)),
        "status": lambda: rng.choice(("active", "active", "disabled", "sleeping")),
    }


def backlog_lines(count: int, seed: int = 1) -> dict[str, bytes]:
    """`count` messages split over the topics (round robin): topic -> stdin for mosquitto_pub."""
    rng = random.Random(seed)
    makers = _payloads(rng)
    names = list(makers)
    lines: dict[str, list[str]] = {name: [] for name in names}
    for index in range(count):
        name = names[index % len(names)]
        lines[name].append(makers[name]())  # type: ignore[operator]
    return {f"{DEVICE}/{name}": ("\n".join(v) + "\n").encode() for name, v in lines.items() if v}


# ---- processes -----------------------------------------------------------------------------


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


def stop_process(proc: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


class Broker:
    """A private mosquitto on a free loopback port."""

    def __init__(self, workdir: Path, settings: str) -> None:
        self.port = free_port()
        self.conf = workdir / "mosquitto.conf"
        self.log = workdir / "mosquitto.log"
        self.settings = settings
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n{BASE_BROKER}log_dest file {self.log}\n{settings}"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Broker:
        self.process = subprocess.Popen(
            [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(self.conf)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_port(self.port)
        return self

    def __exit__(self, *exc: object) -> None:
        stop_process(self.process)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds (0 if it is gone)."""
    try:
        fields_ = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields_[11]) + int(fields_[12])) / os.sysconf("SC_CLK_TCK")


def proc_status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def mysqld_pid() -> int | None:
    """The local MariaDB server's pid, to report its CPU time (only read, never signalled)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in ("mariadbd", "mysqld"):
                    return int(entry.name)
            except OSError:
                continue
    return None


# ---- MQTT helpers (paho) -------------------------------------------------------------------


def make_client(client_id: str, protocol: str, manual_ack: bool = False):  # type: ignore[no-untyped-def]
    import paho.mqtt.client as mqtt

    if protocol == "5":
        return mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5,
            manual_ack=manual_ack,
        )
    return mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False,
        protocol=mqtt.MQTTv311, manual_ack=manual_ack,
    )


def connect(client, port: int, protocol: str, receive_maximum: int | None) -> None:  # type: ignore[no-untyped-def]
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    if protocol == "5":
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY
        if receive_maximum:
            props.ReceiveMaximum = receive_maximum
        client.connect("127.0.0.1", port, 60, clean_start=False, properties=props)
    else:
        client.connect("127.0.0.1", port, 60)


def create_session(port: int, client_id: str, protocol: str, topic: str = TOPIC_FILTER) -> None:
    """Connect once, subscribe at QoS 1, disconnect: the broker now queues for `client_id`."""
    client = make_client(client_id, protocol)
    subscribed = threading.Event()
    client.on_subscribe = lambda *a: subscribed.set()
    connect(client, port, protocol, None)
    client.loop_start()
    try:
        client.subscribe(topic, 1)
        if not subscribed.wait(10):
            raise TimeoutError(f"no SUBACK for {client_id}")
    finally:
        client.disconnect()
        client.loop_stop()


def probe_receive_maximum(port: int, receive_maximum: int, backlog: int = 3000) -> dict[str, int]:
    """How many messages does the broker send a client that never acknowledges?  That is its
    effective in-flight window: MQTT 3.1.1, MQTT 5 without and with a Receive Maximum."""
    cases = {
        "MQTT 3.1.1": ("3.1.1", None),
        "MQTT 5, no Receive Maximum": ("5", None),
        f"MQTT 5, Receive Maximum {receive_maximum}": ("5", receive_maximum),
    }
    topic = "probe/x"
    for index, (protocol, _) in enumerate(cases.values()):
        create_session(port, f"probe-{index}", protocol, topic)
    subprocess.run(
        ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-q", "1", "-l"],
        input=b"x\n" * backlog, check=True, timeout=60,
    )
    result = {}
    for index, (name, (protocol, rm)) in enumerate(cases.items()):
        got: list[int] = []
        client = make_client(f"probe-{index}", protocol, manual_ack=True)
        client.on_message = lambda c, u, m, got=got: got.append(m.mid)
        connect(client, port, protocol, rm)
        client.loop_start()
        last, stable_since = -1, time.monotonic()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and time.monotonic() - stable_since < 0.5:
            time.sleep(0.05)
            if len(got) != last:
                last, stable_since = len(got), time.monotonic()
        client.loop_stop()
        client.socket().close() if client.socket() else None  # drop without a DISCONNECT
        result[name] = len(got)
    return result


def publish_backlog(port: int, count: int, timeout: float) -> float:
    """Publish `count` QoS 1 messages with one mosquitto_pub per topic, in parallel; returns the
    seconds it took.  Every mosquitto_pub exits only once the broker acknowledged its messages."""
    started = time.monotonic()
    procs = []
    for topic, data in backlog_lines(count).items():
        proc = subprocess.Popen(
            ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-q", "1",
             "-M", "1000", "-l", "-i", f"bench-pub-{uuid.uuid4().hex[:8]}"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        procs.append((proc, data))
    # Feed every stdin from its own thread so no publisher waits on another.
    feeders = [
        threading.Thread(target=_feed, args=(proc, data), daemon=True) for proc, data in procs
    ]
    for feeder in feeders:
        feeder.start()
    deadline = started + timeout
    failed = []
    for proc, _ in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            failed.append("timeout")
            continue
        if proc.returncode != 0:
            failed.append((proc.stderr.read() if proc.stderr else b"").decode(errors="replace"))
    for proc, _ in procs:
        if proc.stderr:
            proc.stderr.close()
    if failed:
        raise RuntimeError(f"publishing failed: {failed[:3]}")
    return time.monotonic() - started


def _feed(proc: subprocess.Popen[bytes], data: bytes) -> None:
    try:
        assert proc.stdin is not None
        proc.stdin.write(data)
        proc.stdin.close()
    except (BrokenPipeError, OSError):
        pass


# ---- consumer (a): the bare subscriber, in its own process ---------------------------------


def bare_main(argv: list[str]) -> int:
    """`ingest.py _bare PORT PROTOCOL RECEIVE_MAXIMUM EXPECT TIMEOUT`: count, time, report JSON."""
    port, protocol, receive_maximum, expect, timeout = (
        int(argv[0]), argv[1], int(argv[2]), int(argv[3]), float(argv[4]),
    )
    client = make_client(BARE_CLIENT_ID, protocol)  # auto-ack: PUBACK right after on_message
    state = {"count": 0, "first": 0.0, "last": 0.0}
    clock = time.monotonic

    def on_message(c, userdata, message):  # type: ignore[no-untyped-def]
        now = clock()
        if not state["count"]:
            state["first"] = now
        state["count"] += 1
        state["last"] = now
        if state["count"] >= expect:
            c.disconnect()

    client.on_message = on_message
    connected_at = clock()

    def watchdog() -> None:
        # Stop on the timeout, or when nothing came for 5 s after the first message.
        while True:
            time.sleep(0.25)
            now = clock()
            idle = state["count"] and now - state["last"] > 5
            if now - connected_at > timeout or idle or state["count"] >= expect:
                client.disconnect()
                return

    threading.Thread(target=watchdog, daemon=True).start()
    connect(client, port, protocol, receive_maximum if protocol == "5" else None)
    client.loop_forever()
    print(json.dumps({
        **state,
        "hwm_kb": proc_status_kb(os.getpid(), "VmHWM"),
        "cpu": cpu_seconds(os.getpid()),
    }))
    return 0


@dataclass
class Drain:
    count: int = 0
    seconds: float = 0.0
    rss_kb: int = 0
    cpu: dict[str, float] = field(default_factory=dict)
    note: str = ""

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0


def cpu_of(pids: dict[str, int | None]) -> dict[str, float]:
    return {name: cpu_seconds(pid) for name, pid in pids.items() if pid}


def drain_bare(broker: Broker, protocol: str, receive_maximum: int, expect: int,
               timeout: float, mysqld: int | None) -> Drain:
    pids = {"broker": broker.process.pid if broker.process else None, "mysqld": mysqld}
    before = cpu_of(pids)
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "_bare", str(broker.port), protocol,
         str(receive_maximum), str(expect), str(timeout)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        out, err = proc.communicate(timeout=timeout + 15)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    after = cpu_of(pids)
    try:
        data = json.loads(out.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        return Drain(note=f"bare subscriber failed: {err.decode(errors='replace')[-500:]}")
    drain = Drain(
        count=data["count"],
        # messages after the first / time from the first to the last
        seconds=data["last"] - data["first"],
        rss_kb=data["hwm_kb"],
        cpu={"consumer": data["cpu"], **{k: after[k] - before[k] for k in before}},
    )
    drain.count = max(drain.count - 1, 0)
    if data["count"] < expect:
        drain.note = f"only {data['count']} of {expect} messages arrived"
    return drain


# ---- consumer (b): the recorder ------------------------------------------------------------


def write_recorder_config(path: Path, port: int, db_url: str, protocol: str,
                          receive_maximum: int, args: argparse.Namespace) -> None:
    lines = [
        "[mqtt]",
        "host = 127.0.0.1",
        f"port = {port}",
        f"client_id = {RECORDER_CLIENT_ID}",
        f"topics = {TOPIC_FILTER}",
        f"protocol = {protocol}",
        f"session_expiry = {SESSION_EXPIRY}",
    ]
    if protocol == "5":
        lines.append(f"receive_maximum = {receive_maximum}")
    lines += ["[database]", f"url = {db_url}", "auto_migrate = true", "[recorder]",
              f"spool_path = {path.parent / 'recorder.spool'}"]
    if args.batch_size:
        lines.append(f"batch_size = {args.batch_size}")
    if args.flush_interval is not None:
        lines.append(f"flush_interval = {args.flush_interval}")
    path.write_text("\n".join(lines) + "\n")


def drain_recorder(broker: Broker, config: Path, db, expect: int, timeout: float,  # type: ignore[no-untyped-def]
                   mysqld: int | None, log_path: Path, profile: str | None) -> Drain:
    cursor = db.cursor()
    command = [sys.executable, "-m", "chargelog.cli", "--config", str(config), "record"]
    if profile:
        command = ["py-spy", "record", "--rate", "250", "--gil", "--format", "raw", "-o", profile,
                   "--", *command]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=config.parent)
    pids = {"broker": broker.process.pid if broker.process else None, "mysqld": mysqld}
    target_pid = proc.pid
    samples: list[tuple[float, int]] = []
    started = time.monotonic()
    first: tuple[float, int] | None = None
    last_progress = started
    count = 0
    before = cpu_of(pids)
    try:
        while True:
            now = time.monotonic()
            cursor.execute("SELECT COALESCE(MAX(seq), 0) FROM journal")
            count = int(cursor.fetchone()[0])
            if count and first is None:
                first = (now, count)
            if not samples or count != samples[-1][1]:
                last_progress = now
            samples.append((now, count))
            if count >= expect:
                break
            if proc.poll() is not None:
                break
            if now - started > timeout or (first and now - last_progress > 10):
                break
            time.sleep(0.02)
        if profile:
            target_pid = _child_pid(proc.pid) or proc.pid
        rss_kb = proc_status_kb(target_pid, "VmHWM")
        consumer_cpu = cpu_seconds(target_pid)
        after = cpu_of(pids)
    finally:
        if profile:
            child = _child_pid(proc.pid)
            if child:
                os.kill(child, signal.SIGTERM)
            proc.wait(timeout=30)
        else:
            stop_process(proc, timeout=20)
    cursor.execute("SELECT COUNT(*), COUNT(DISTINCT payload, topic, received_at) FROM journal")
    rows, _distinct = cursor.fetchone()
    drain = Drain(rss_kb=rss_kb, cpu={"consumer": consumer_cpu,
                                      **{k: after[k] - before[k] for k in before}})
    if first is not None:
        end = next((t for t, c in samples if c >= expect), samples[-1][0])
        drain.count = min(count, expect) - first[1]
        drain.seconds = end - first[0]
    if rows != expect:
        drain.note = f"journal holds {rows} rows, expected {expect}"
    if proc.returncode not in (0, None, -signal.SIGTERM):
        tail = log_path.read_text(errors="replace")[-800:]
        drain.note += f"; recorder exited {proc.returncode}: {tail}"
    return drain


def _child_pid(pid: int) -> int | None:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return None
    return int(children[0]) if children else None


# ---- MariaDB ------------------------------------------------------------------------------


class Database:
    """A throwaway database on the local MariaDB, migrated, dropped afterwards."""

    def __init__(self, admin_url: str) -> None:
        from journal.storage import parse_database_url

        self.admin = parse_database_url(admin_url)
        self.name = f"chargelog_bench_{uuid.uuid4().hex[:10]}"
        auth = self.admin.user + (f":{self.admin.password}" if self.admin.password else "")
        self.url = f"mysql://{auth}@{self.admin.host}:{self.admin.port}/{self.name}"
        self.conn = None

    def __enter__(self) -> Database:
        import mysql.connector

        from journal.migrate import migrate
        from journal.storage import open_store

        self.conn = mysql.connector.connect(
            host=self.admin.host, port=self.admin.port, user=self.admin.user,
            password=self.admin.password, connection_timeout=5, autocommit=True,
        )
        cursor = self.conn.cursor()
        cursor.execute(f"CREATE DATABASE `{self.name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        cursor.execute(f"USE `{self.name}`")
        with open_store(self.url) as store:
            migrate(store)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.conn is not None:
            self.conn.reconnect(attempts=3, delay=1)
            self.conn.cursor().execute(f"DROP DATABASE IF EXISTS `{self.name}`")
            self.conn.close()


# ---- the run ------------------------------------------------------------------------------


def run_scenario(name: str, args: argparse.Namespace, workroot: Path, deadline: float,
                 mysqld: int | None) -> dict[str, object]:
    settings, protocol = SCENARIOS[name]
    workdir = workroot / name
    workdir.mkdir()
    n = args.messages
    queue_limit = max(n + 1000, 1000)
    broker_settings = settings
    if "max_queued_messages" not in settings:
        broker_settings += f"max_queued_messages {queue_limit}\n"
    elif n > 1_000_000:
        broker_settings = broker_settings.replace("1000000", str(queue_limit))
    result: dict[str, object] = {"scenario": name, "protocol": protocol,
                                 "broker": broker_settings.strip().replace("\n", "; ")}

    def budget(limit: float) -> float:
        return max(1.0, min(limit, deadline - time.monotonic()))

    with Broker(workdir, broker_settings) as broker, Database(args.mysql) as db:
        create_session(broker.port, BARE_CLIENT_ID, protocol)
        create_session(broker.port, RECORDER_CLIENT_ID, protocol)
        result["publish_s"] = publish_backlog(broker.port, n, budget(args.drain_timeout))
        bare = drain_bare(broker, protocol, args.receive_maximum, n,
                          budget(args.drain_timeout), mysqld)
        config = workdir / "recorder.ini"
        write_recorder_config(config, broker.port, db.url, protocol, args.receive_maximum, args)
        profile = str(workroot.parent / f"profile-{name}.txt") if args.profile else None
        rec = drain_recorder(broker, config, db.conn, n, budget(args.drain_timeout), mysqld,
                             workdir / "recorder.log", profile)
    result.update(bare=bare, recorder=rec)
    return result


def print_result(result: dict[str, object], n: int) -> None:
    bare: Drain = result["bare"]  # type: ignore[assignment]
    rec: Drain = result["recorder"]  # type: ignore[assignment]
    ratio = rec.rate / bare.rate if bare.rate else 0.0
    rss_mb = rec.rss_kb / 1024
    ok = lambda good: "ok" if good else "MISSED"  # noqa: E731
    print(f"\n== {result['scenario']}: MQTT {result['protocol']}; broker: {result['broker']}")
    print(f"   published {n} messages in {result['publish_s']:.1f} s "
          f"({n / result['publish_s']:,.0f} msg/s, not measured)")
    for label, d in (("bare paho subscriber", bare), ("chargelog record", rec)):
        cpu = ", ".join(f"{k} {v:.1f}" for k, v in d.cpu.items())
        per = d.cpu.get("consumer", 0) / max(d.count, 1) * 1e6
        print(f"   {label:22s} {d.rate:>9,.0f} msg/s  ({d.count} msgs in {d.seconds:.2f} s; "
              f"peak RSS {d.rss_kb / 1024:.1f} MB; CPU s: {cpu}; {per:.0f} us CPU/msg incl. start)"
              + (f"  !! {d.note}" if d.note else ""))
    print(f"   ratio recorder/bare  {ratio:9.2f}   [goal >= 0.8: {ok(ratio >= 0.8)}]")
    print(f"   recorder msg/s       {rec.rate:9,.0f}   [goal >= 10,000: {ok(rec.rate >= 10000)}]")
    print(f"   recorder peak RSS    {rss_mb:9.1f} MB [goal < 80 MB: {ok(0 < rss_mb < 80)}]")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_bare":
        return bare_main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000, help="backlog size (100000)")
    parser.add_argument("--scenarios", default="default,default-v5,recommended,recommended-v311",
                        help=f"comma-separated, from: {', '.join(SCENARIOS)}")
    parser.add_argument("--receive-maximum", type=int, default=None,
                        help="[mqtt] receive_maximum for MQTT 5 (default: the recorder's default)")
    parser.add_argument("--batch-size", type=int, default=None, help="[recorder] batch_size")
    parser.add_argument("--flush-interval", type=float, default=None,
                        help="[recorder] flush_interval")
    parser.add_argument("--mysql", default=os.environ.get(
        "CHARGELOG_TEST_MYSQL", "mysql://root@127.0.0.1:3306/test"),
        help="admin URL of the MariaDB server (a scratch database is created and dropped)")
    parser.add_argument("--drain-timeout", type=float, default=60.0,
                        help="give up on one phase after this many seconds (60)")
    parser.add_argument("--budget", type=float, default=170.0,
                        help="whole-run limit in seconds; later scenarios are skipped (170)")
    parser.add_argument("--probe", action=argparse.BooleanOptionalAction, default=True,
                        help="probe the in-flight window each broker configuration grants")
    parser.add_argument("--profile", action="store_true",
                        help="run the recorder under py-spy (collapsed stacks, only while holding the GIL: profile-<scenario>.txt beside the work dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args(argv)
    names = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = [s for s in names if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    if args.receive_maximum is None:
        from journal.config import MqttConfig

        args.receive_maximum = MqttConfig().receive_maximum
    sys.path.insert(0, str(ROOT))
    started = time.monotonic()
    deadline = started + args.budget
    workroot = Path(tempfile.mkdtemp(prefix="chargelog-bench-"))
    mysqld = mysqld_pid()
    import mysql.connector

    print(f"chargelog ingest benchmark: {args.messages} QoS 1 messages per scenario; "
          f"{os.cpu_count()} CPUs; mysql-connector {mysql.connector.__version__} "
          f"({'C extension' if mysql.connector.HAVE_CEXT else 'pure Python'}); "
          f"MQTT 5 receive_maximum {args.receive_maximum}; work dir {workroot}")
    try:
        if args.probe:
            probed = set()
            for name in names:
                settings = SCENARIOS[name][0]
                if settings in probed:
                    continue
                probed.add(settings)
                probe_dir = workroot / f"probe-{len(probed)}"
                probe_dir.mkdir()
                with Broker(probe_dir, settings + "max_queued_messages 100000\n") as broker:
                    window = probe_receive_maximum(broker.port, args.receive_maximum)
                label = "default settings" if not settings else settings.strip().replace(
                    "\n", "; ")
                print(f"in-flight window granted by mosquitto ({label}): "
                      + "; ".join(f"{k}: {v}" for k, v in window.items()))
        for name in names:
            if time.monotonic() > deadline - 10:
                print(f"\n== {name}: skipped (time budget of {args.budget:.0f} s used up)")
                continue
            result = run_scenario(name, args, workroot, deadline, mysqld)
            print_result(result, args.messages)
            sys.stdout.flush()
    finally:
        if not args.keep:
            shutil.rmtree(workroot, ignore_errors=True)
    print(f"\ntotal {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
