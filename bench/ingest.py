"""Ingest benchmark: how fast does `chargelog record` commit MQTT messages into MariaDB, compared
with the fastest a Python MQTT client can merely receive them?

    python bench/ingest.py                      # 100,000 messages, 4 scenarios x 2 rounds, < 3 min
    python bench/ingest.py --scenarios default,recommended --repeat 3
    python bench/ingest.py --messages 20000 --batch-size 3000 --flush-interval 0.05
    python bench/ingest.py --scenarios default --repeat 1 --profile  # py-spy, see --help

Method: drain a backlog.  Per scenario, on a private mosquitto (127.0.0.1 only, a free port) with
the scenario's settings and a fresh MariaDB database:

1. Two persistent sessions, one per consumer, each subscribed once at QoS 1 to `openevse-ab12/#`
   (MQTT 3.1.1: clean_session=False; MQTT 5: clean_start=False and a session expiry); then both
   disconnect.  From now on the broker queues everything published there for each of them.
2. Each round: publish the backlog, N QoS 1 messages like OpenEVSE's (`openevse-ab12/amp 31950`,
   `openevse-ab12/voltage 240`, `openevse-ab12/status active`, ... ten topics), with one
   `mosquitto_pub -l -q 1` per topic, in parallel.  Both consumers are offline meanwhile, so the
   publisher is not measured and cannot be the bottleneck.
3. Then drain it with each consumer in turn (the order alternates between rounds), each started
   only once MariaDB and the broker are idle again:
   (a) a bare paho-mqtt subscriber in its own process (QoS 1, automatic acks, `loop_forever`,
       counts only): the ceiling for a Python client.  It times its first and its N-th message.
   (b) `python -m chargelog.cli --config X record`, a real subprocess, into MariaDB.  The benchmark
       counts committed journal rows every 20 ms (rows above the highest seq seen so far: one
       writer commits in seq order, so this is cheap and exact) and times the first committed
       row and the N-th.  It reads the recorder's peak RSS (VmHWM in /proc/PID/status) before
       stopping it with SIGTERM, and checks that exactly N rows were added.
4. Report per round, then the medians: msg/s of both, recorder/bare, and the recorder's peak RSS.

Why this is fair to both consumers: they drain the very same backlog from the very same broker
process, with the same settings (in-flight window, queue limit), the same MQTT version and, on
MQTT 5, the same Receive Maximum; no publisher competes with them for the two CPU cores; each
rate is messages from its first to its last message over that time, so start-up, connection and
subscription count for neither.  What differs is only the work per message, which is what the
ratio is about: the recorder commits every row to MariaDB before it acknowledges it, the bare
subscriber acknowledges each message as it comes.  (So the ratio can exceed 1: paho's automatic
ack costs a send() per message, while the recorder acknowledges a committed batch in one write.)
The one change to "default" broker settings is `max_queued_messages`, raised in every scenario to
hold the backlog: with its default of 1000 the broker would drop all but 1000 of the messages
published while the consumers are offline.  It does not limit a consumer that is draining.

Scenarios (`--scenarios`, comma-separated; default: all four):

- `default`: Mosquitto's defaults (max_inflight_messages 20); the recorder's defaults (MQTT 3.1.1).
- `default-v5`: Mosquitto's defaults; both consumers on MQTT 5 with Receive Maximum
  --receive-maximum (10000).
- `recommended`: the broker settings of README.md (RECOMMENDED_BROKER below); MQTT 5 as above.
- `recommended-v311`: the same broker, both consumers on MQTT 3.1.1.

Before the scenarios, a probe (--no-probe skips it) shows the in-flight window each broker
configuration grants: messages a client gets while it never acknowledges, by MQTT version and
Receive Maximum, and the most it holds unacknowledged while it acknowledges in bursts.  On
Mosquitto 2.0.11 an MQTT 5 Receive Maximum is honoured above max_inflight_messages, but once a
client acknowledges in bursts the broker sends well beyond the window (eclipse/mosquitto#2301):
the recorder's memory must not rely on the window, and its log reports the longest queue it saw.

Everything is bounded in time (--drain-timeout per phase, --budget for the run): the run stops by
itself, stops what it started, and drops the databases it created.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.services import free_port, wait_port

ROOT = Path(__file__).resolve().parent.parent
DEVICE = "openevse-ab12"
TOPIC_FILTER = f"{DEVICE}/#"
RECORDER_CLIENT_ID = "bench-recorder"
BARE_CLIENT_ID = "bench-bare"
SESSION_EXPIRY = 3600

# Broker settings shared by every scenario: loopback only, and a log file.
BASE_BROKER = "allow_anonymous true\n"
# The broker settings README.md recommends in front of the recorder ("{workdir}" is the scenario's
# directory).  For the recorder's throughput only the first two matter; the others are there so
# that the figures hold for the configuration people are told to run.
RECOMMENDED_BROKER = (
    # How many unacknowledged messages may be in flight to one MQTT 3.1.1 client (default 20).
    # Bounded: 0 (unlimited) would push a whole offline backlog into the client at once.  An MQTT 5
    # client's own Receive Maximum replaces it.
    "max_inflight_messages 1000\n"
    # Per client queue while the recorder is away: >= message rate x longest outage (default 1000).
    "max_queued_messages 200000\n"
    "upgrade_outgoing_qos true\n"
    "persistence true\n"
    "persistence_location {workdir}/\n"
    "autosave_interval 60\n"
)
# The Receive Maximum the MQTT 5 scenarios announce, unless --receive-maximum says otherwise.
RECEIVE_MAXIMUM = 10_000

SCENARIOS = {
    # name: (broker settings, recorder's MQTT protocol)
    "default": ("", "3.1.1"),
    "default-v5": ("", "5"),
    "recommended": (RECOMMENDED_BROKER, "5"),
    "recommended-v311": (RECOMMENDED_BROKER, "3.1.1"),
}


def broker_settings(scenario_settings: str, backlog: int) -> str:
    """The scenario's settings, with max_queued_messages raised to hold the backlog if needed."""
    need = backlog + 1000
    match = re.search(r"^max_queued_messages (\d+)$", scenario_settings, re.M)
    if match is None:
        return scenario_settings + f"max_queued_messages {need}\n"
    if int(match[1]) < need:
        return scenario_settings.replace(match[0], f"max_queued_messages {need}")
    return scenario_settings


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
            f"listener {self.port} 127.0.0.1\n{BASE_BROKER}log_dest file {self.log}\n"
            + settings.replace("{workdir}", str(workdir))
        )
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Broker:
        self.process = subprocess.Popen(
            [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
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


def settle(pids: list[int | None], limit: float = 15.0) -> None:
    """Wait (at most `limit` s) until these processes are idle, e.g. MariaDB purging and flushing
    after the previous scenario: each consumer should start on quiet CPUs."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = sum(cpu_seconds(pid) for pid in pids if pid)
        time.sleep(0.3)
        if sum(cpu_seconds(pid) for pid in pids if pid) - before < 0.02:
            return


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
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=manual_ack,
        )
    return mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=False,
        protocol=mqtt.MQTTv311,
        manual_ack=manual_ack,
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


def publish_lines_command(port: int, topic: str) -> list[str]:
    """mosquitto_pub sending each line of its stdin to `topic` at QoS 1 on the local broker, up
    to 1000 in flight."""
    return [
        "mosquitto_pub",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-t",
        topic,
        "-q",
        "1",
        "-M",
        "1000",
        "-l",
    ]


def probe_receive_maximum(port: int, receive_maximum: int) -> dict[str, tuple[int, int]]:
    """The in-flight window the broker grants, seen from the client: for MQTT 3.1.1, MQTT 5
    without and with a Receive Maximum, (a) how many messages arrive while the client never
    acknowledges, and (b) the most messages held unacknowledged while the client acknowledges
    everything it has every 20 ms, as the recorder does after each commit.  (a) shows whether
    the window (and Receive Maximum) is honoured; (b) shows whether it still bounds a client that
    acknowledges in bursts."""
    cases = {
        "MQTT 3.1.1": ("3.1.1", None),
        "MQTT 5 without Receive Maximum": ("5", None),
        f"MQTT 5 with Receive Maximum {receive_maximum}": ("5", receive_maximum),
    }
    topic = "probe/x"
    backlog = max(3000, 2 * receive_maximum + 2000)
    for index, (protocol, _) in enumerate(cases.values()):
        create_session(port, f"probe-{index}", protocol, topic)
    subprocess.run(
        publish_lines_command(port, topic),
        input=b"x\n" * backlog,
        check=True,
        timeout=60,
    )
    result = {}
    for index, (name, (protocol, rm)) in enumerate(cases.items()):
        got: list[int] = []
        client = make_client(f"probe-{index}", protocol, manual_ack=True)
        client.on_message = lambda c, u, m, got=got: got.append(m.mid)
        connect(client, port, protocol, rm)
        client.loop_start()
        # (a) never acknowledge: wait until nothing more comes
        last, stable_since = -1, time.monotonic()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and time.monotonic() - stable_since < 0.5:
            time.sleep(0.05)
            if len(got) != last:
                last, stable_since = len(got), time.monotonic()
        window = len(got)
        # (b) acknowledge in bursts
        acked, most = 0, 0
        deadline = time.monotonic() + 3
        while acked < backlog and time.monotonic() < deadline:
            received = len(got)
            most = max(most, received - acked)
            for mid in got[acked:received]:
                client.ack(mid, 1)
            acked = received
            time.sleep(0.02)
        client.loop_stop()
        sock = client.socket()
        if sock is not None:
            sock.close()  # gone without a DISCONNECT; the session is not reused
        result[name] = (window, most)
    return result


def publish_backlog(port: int, count: int, timeout: float) -> float:
    """Publish `count` QoS 1 messages with one mosquitto_pub per topic, in parallel; returns the
    seconds it took.  Every mosquitto_pub exits only once the broker acknowledged its messages."""
    started = time.monotonic()
    procs = []
    for topic, data in backlog_lines(count).items():
        proc = subprocess.Popen(
            [*publish_lines_command(port, topic), "-i", f"bench-pub-{uuid.uuid4().hex[:8]}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
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
        int(argv[0]),
        argv[1],
        int(argv[2]),
        int(argv[3]),
        float(argv[4]),
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
    print(
        json.dumps(
            {
                **state,
                "hwm_kb": proc_status_kb(os.getpid(), "VmHWM"),
                "cpu": cpu_seconds(os.getpid()),
            }
        )
    )
    return 0


@dataclass
class Drain:
    count: int = 0
    seconds: float = 0.0
    rss_kb: int = 0
    cpu: dict[str, float] = field(default_factory=dict)
    note: str = ""
    queue_peak: int = -1  # recorder: most messages waiting in its memory (from its log)

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0


def cpu_of(pids: dict[str, int | None]) -> dict[str, float]:
    return {name: cpu_seconds(pid) for name, pid in pids.items() if pid}


def drain_bare(
    broker: Broker,
    protocol: str,
    receive_maximum: int,
    expect: int,
    timeout: float,
    mysqld: int | None,
) -> Drain:
    pids = {"broker": broker.process.pid if broker.process else None, "mysqld": mysqld}
    settle(list(pids.values()))
    before = cpu_of(pids)
    proc = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "_bare",
            str(broker.port),
            protocol,
            str(receive_maximum),
            str(expect),
            str(timeout),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
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


def write_recorder_config(
    path: Path,
    port: int,
    db_url: str,
    protocol: str,
    receive_maximum: int,
    args: argparse.Namespace,
) -> None:
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
    lines += [
        "[database]",
        f"url = {db_url}",
        "auto_migrate = true",
        "[recorder]",
        f"spool_path = {path.parent / 'recorder.spool'}",
    ]
    if args.batch_size:
        lines.append(f"batch_size = {args.batch_size}")
    if args.flush_interval is not None:
        lines.append(f"flush_interval = {args.flush_interval}")
    path.write_text("\n".join(lines) + "\n")


def drain_recorder(
    broker: Broker,
    config: Path,
    db,
    expect: int,
    timeout: float,  # type: ignore[no-untyped-def]
    mysqld: int | None,
    log_path: Path,
    profile: str | None,
) -> Drain:
    cursor = db.cursor()
    settle([broker.process.pid if broker.process else None, mysqld])
    command = [sys.executable, "-m", "chargelog.cli", "--config", str(config), "record"]
    if profile:
        command = [
            "py-spy",
            "record",
            "--rate",
            "250",
            "--gil",
            "--format",
            "raw",
            "-o",
            profile,
            "--",
            *command,
        ]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=config.parent)
    pids = {"broker": broker.process.pid if broker.process else None, "mysqld": mysqld}
    target_pid = proc.pid
    samples: list[tuple[float, int]] = []
    started = time.monotonic()
    first: tuple[float, int] | None = None
    last_progress = started
    count = 0
    cursor.execute("SELECT COALESCE(MAX(seq), 0) FROM journal")
    top = start_top = int(cursor.fetchone()[0])  # an earlier round's rows are there
    before = cpu_of(pids)
    try:
        while True:
            now = time.monotonic()
            # Only the rows committed since the last poll (seq may have gaps: a multi-row
            # INSERT ... SELECT reserves auto-increment values in blocks; one writer commits in
            # seq order, so nothing ever appears below `top`).
            cursor.execute(
                "SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM journal WHERE seq > %s", (top,)
            )
            new_rows, new_top = cursor.fetchone()
            if new_rows:
                count, top = count + int(new_rows), int(new_top)
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
    cursor.execute("SELECT COUNT(*) FROM journal WHERE seq > %s", (start_top,))
    rows = cursor.fetchone()[0]
    drain = Drain(
        rss_kb=rss_kb, cpu={"consumer": consumer_cpu, **{k: after[k] - before[k] for k in before}}
    )
    if first is not None:
        end = next((t for t, c in samples if c >= expect), samples[-1][0])
        drain.count = min(count, expect) - first[1]
        drain.seconds = end - first[0]
    match = re.search(r"at most (\d+) waited in memory", log_path.read_text(errors="replace"))
    drain.queue_peak = int(match[1]) if match else -1
    if rows != expect:
        drain.note = f"the journal got {rows} rows, expected {expect}"
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
            **self.admin.connect_args(with_database=False), connection_timeout=5, autocommit=True
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


def run_scenario(
    name: str, args: argparse.Namespace, workroot: Path, deadline: float, mysqld: int | None
) -> dict[str, object]:
    settings, protocol = SCENARIOS[name]
    workdir = workroot / name
    workdir.mkdir()
    n = args.messages
    settings = broker_settings(settings, n)
    shown = settings.replace("{workdir}", "<dir>").strip().replace("\n", "; ")
    result: dict[str, object] = {
        "scenario": name,
        "protocol": protocol
        + (f", receive_maximum {args.receive_maximum}" if protocol == "5" else ""),
        "broker": shown,
    }

    def budget(limit: float) -> float:
        return max(1.0, min(limit, deadline - time.monotonic()))

    publish_s: list[float] = []
    bares: list[Drain] = []
    recs: list[Drain] = []
    with Broker(workdir, settings) as broker, Database(args.mysql) as db:
        create_session(broker.port, BARE_CLIENT_ID, protocol)
        create_session(broker.port, RECORDER_CLIENT_ID, protocol)
        config = workdir / "recorder.ini"
        write_recorder_config(config, broker.port, db.url, protocol, args.receive_maximum, args)
        for round_ in range(args.repeat):
            if round_ and time.monotonic() > deadline - 20:
                break
            publish_s.append(publish_backlog(broker.port, n, budget(args.drain_timeout)))
            profile = (
                str(workroot.parent / f"profile-{name}.txt")
                if args.profile and not round_
                else None
            )
            # Alternate which consumer drains first, so neither always gets the fresher machine.
            for consumer in ("bare", "recorder") if round_ % 2 == 0 else ("recorder", "bare"):
                if consumer == "bare":
                    bares.append(
                        drain_bare(
                            broker,
                            protocol,
                            args.receive_maximum,
                            n,
                            budget(args.drain_timeout),
                            mysqld,
                        )
                    )
                else:
                    recs.append(
                        drain_recorder(
                            broker,
                            config,
                            db.conn,
                            n,
                            budget(args.drain_timeout),
                            mysqld,
                            workdir / f"recorder-{round_}.log",
                            profile,
                        )
                    )
    result.update(publish_s=publish_s, bare=bares, recorder=recs)
    return result


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def print_result(result: dict[str, object], n: int) -> dict[str, float]:
    bares: list[Drain] = result["bare"]  # type: ignore[assignment]
    recs: list[Drain] = result["recorder"]  # type: ignore[assignment]
    publish_s: list[float] = result["publish_s"]  # type: ignore[assignment]
    print(f"\n== {result['scenario']}: MQTT {result['protocol']}; broker: {result['broker']}")
    for round_, (seconds, bare, rec) in enumerate(zip(publish_s, bares, recs, strict=False)):
        print(
            f"   round {round_ + 1}: published {n} messages in {seconds:.1f} s "
            f"({n / seconds:,.0f} msg/s, not measured)"
        )
        for label, d in (("bare paho subscriber", bare), ("chargelog record", rec)):
            cpu = ", ".join(f"{k} {v:.1f}" for k, v in d.cpu.items())
            per = d.cpu.get("consumer", 0) / max(d.count, 1) * 1e6
            print(
                f"     {label:22s} {d.rate:>9,.0f} msg/s  ({d.count} msgs in {d.seconds:.2f} s; "
                f"peak RSS {d.rss_kb / 1024:.1f} MB; CPU s: {cpu}; "
                f"{per:.0f} us CPU/msg incl. start"
                + (f"; queue peak {d.queue_peak}" if d.queue_peak >= 0 else "")
                + ")"
                + (f"  !! {d.note}" if d.note else "")
            )
    bare_rate = _median([d.rate for d in bares])
    rec_rate = _median([d.rate for d in recs])
    ratio = rec_rate / bare_rate if bare_rate else 0.0
    rss_mb = max((d.rss_kb for d in recs), default=0) / 1024
    complete = all(not d.note for d in (*bares, *recs))
    ok = lambda good: "ok" if good and complete else "MISSED"  # noqa: E731
    rounds = f"median of {len(recs)} round(s)"
    print(f"   bare msg/s           {bare_rate:9,.0f}   ({rounds})")
    print(
        f"   recorder msg/s       {rec_rate:9,.0f}   ({rounds})  [goal >= 10,000: "
        f"{ok(rec_rate >= 10000)}]"
    )
    print(f"   ratio recorder/bare  {ratio:9.2f}   [goal >= 0.8: {ok(ratio >= 0.8)}]")
    print(
        f"   recorder peak RSS    {rss_mb:9.1f} MB (highest round) [goal < 80 MB: "
        f"{ok(0 < rss_mb < 80)}]"
    )
    return {"bare": bare_rate, "recorder": rec_rate, "ratio": ratio, "rss_mb": rss_mb}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_bare":
        return bare_main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000, help="backlog size (100000)")
    parser.add_argument(
        "--scenarios",
        default="default,default-v5,recommended,recommended-v311",
        help=f"comma-separated, from: {', '.join(SCENARIOS)}",
    )
    parser.add_argument(
        "--receive-maximum",
        type=int,
        default=RECEIVE_MAXIMUM,
        help="[mqtt] receive_maximum of the recorder (and the bare subscriber) in "
        f"the MQTT 5 scenarios ({RECEIVE_MAXIMUM})",
    )
    parser.add_argument("--batch-size", type=int, default=None, help="[recorder] batch_size")
    parser.add_argument(
        "--flush-interval", type=float, default=None, help="[recorder] flush_interval"
    )
    parser.add_argument(
        "--mysql",
        default=os.environ.get("CHARGELOG_TEST_MYSQL", "mysql://root@127.0.0.1:3306/test"),
        help="admin URL of the MariaDB server (a scratch database is created and dropped)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=2,
        help="rounds per scenario (publish, drain both); medians reported (2)",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=60.0,
        help="give up on one phase after this many seconds (60)",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=170.0,
        help="whole-run limit in seconds; later scenarios are skipped (170)",
    )
    parser.add_argument(
        "--probe",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="probe the in-flight window each broker configuration grants",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run the recorder under py-spy: stacks sampled while holding the GIL, "
        "collapsed, in profile-<scenario>.txt beside the work directory",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args(argv)
    names = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = [s for s in names if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    sys.path.insert(0, str(ROOT))
    started = time.monotonic()
    deadline = started + args.budget
    workroot = Path(tempfile.mkdtemp(prefix="chargelog-bench-"))
    mysqld = mysqld_pid()
    import mysql.connector

    print(
        f"chargelog ingest benchmark: {args.messages} QoS 1 messages per scenario; "
        f"{os.cpu_count()} CPUs; mysql-connector {mysql.connector.__version__} "
        f"({'C extension' if mysql.connector.HAVE_CEXT else 'pure Python'}); "
        f"MQTT 5 receive_maximum {args.receive_maximum}; work dir {workroot}"
    )
    summary: dict[str, dict[str, float]] = {}
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
                backlog = 2 * args.receive_maximum + 2000
                with Broker(probe_dir, broker_settings(settings, backlog)) as broker:
                    window = probe_receive_maximum(broker.port, args.receive_maximum)
                label = "recommended" if settings else "default"
                print(
                    f"in-flight window of mosquitto ({label} settings), as (a) messages "
                    "received while never acknowledging / (b) most held unacknowledged while "
                    "acknowledging in bursts:"
                )
                for case, (never, bursts) in window.items():
                    print(f"   {case:40s} (a) {never:6d}   (b) {bursts:6d}")
        for name in names:
            if time.monotonic() > deadline - 10:
                print(f"\n== {name}: skipped (time budget of {args.budget:.0f} s used up)")
                continue
            result = run_scenario(name, args, workroot, deadline, mysqld)
            summary[name] = print_result(result, args.messages)
            sys.stdout.flush()
    finally:
        if not args.keep:
            shutil.rmtree(workroot, ignore_errors=True)
    print("\nsummary (medians):  scenario            bare msg/s  recorder msg/s  ratio  RSS MB")
    for name, row in summary.items():
        print(
            f"                    {name:18s} {row['bare']:11,.0f} {row['recorder']:15,.0f} "
            f"{row['ratio']:6.2f} {row['rss_mb']:7.1f}"
        )
    print(f"total {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
