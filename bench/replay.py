"""Replay speed: `chargelog project --rebuild` against the bare streaming read of the journal.

    python bench/replay.py                     # SQLite and MariaDB, 100k and 1M rows
    python bench/replay.py --backend sqlite --sizes 100000

For each backend and size it fills a fresh journal with simulated OpenEVSE traffic (3 chargers:
5.x, 4.1 and 2.x, with every fault of the reference), then runs, each in its own process so that
their peak RSS can be read apart:

- the bare read: every journal row streamed with the same driver (`SELECT ... ORDER BY seq`,
  iterated without doing anything with the rows);
- `chargelog project --rebuild`: the whole journal through the state machine into fresh tables,
  then the atomic swap.

Both are timed inside their child process, after their modules are imported, from just before the
work to its end: the bare read from its connect, the rebuild from the call of `chargelog`'s main
(so its schema check, lock, `_next` tables, difference report and swap all count). Each runs
`--rounds` times (default 3), alternating, and the medians are shown. It prints rows/s
for both, their ratio (rebuild / bare; the goal is >= 0.6) and each process's peak RSS (VmHWM,
read by the child itself at its end: the goal is flat in the journal's size). Everything runs on
this machine; MariaDB at 127.0.0.1 (a scratch database is created and dropped).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from journal import entries
from journal.migrate import migrate
from journal.storage import open_store, parse_database_url
from simulator.traffic import SimulationSpec, default_chargers, parse_faults, simulate
from tests.services import mysql_database

BATCH = 5000


def fill(url: str, rows: int) -> float:
    """A journal of exactly `rows` simulated messages; returns the days they cover."""
    chargers = default_chargers(3, ["5.x", "4.1", "2.x"], seed=7)
    spec = SimulationSpec(
        chargers=chargers,
        start=datetime(2026, 1, 1, 12, tzinfo=UTC),  # noon: 100k rows hold evening charges
        days=3650,
        seed=7,
        faults=parse_faults("all"),
    )
    batch: list[tuple[str, str, bytes, int, int]] = []
    first = last = 0.0
    with open_store(url) as store:
        migrate(store)
        for count, message in enumerate(simulate(spec).messages(), start=1):
            first = first or message.ts
            last = message.ts
            micros = round(message.ts * 1_000_000)
            batch.append(
                (
                    entries.micros_text(micros),
                    message.topic,
                    message.payload,
                    0,
                    int(message.retained),
                )
            )
            if len(batch) >= BATCH or count == rows:
                entries.append(store, batch)
                store.commit()
                batch.clear()
            if count == rows:
                break
    return (last - first) / 86400


def peak_rss_kb() -> int:
    """This process's own high-water RSS (VmHWM is per address space, so what the parent held
    before the exec does not count, unlike getrusage's ru_maxrss)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def bare_read(url: str) -> None:
    """The child process of the bare read: stream every row with the driver, do nothing else."""
    target = parse_database_url(url)
    sql = "SELECT seq, received_at, topic, payload, retained FROM journal ORDER BY seq"
    rows = 0
    if target.dialect == "sqlite":
        import sqlite3

        started = time.perf_counter()
        conn = sqlite3.connect(target.path)
        cursor = conn.execute(sql)
    else:
        import mysql.connector

        started = time.perf_counter()
        conn = mysql.connector.connect(**target.connect_args())
        cursor = conn.cursor(buffered=False)
        cursor.execute(sql)
    while chunk := cursor.fetchmany(BATCH):
        rows += len(chunk)
    print(f"{rows} {time.perf_counter() - started:.6f} {peak_rss_kb()}")


def run_cli(argv: list[str]) -> None:
    """The child process of the rebuild: the real `chargelog` command, then its peak RSS."""
    import tqdm  # noqa: F401

    # What main imports on demand, imported before the clock starts, as the bare read's driver is.
    import journal.migrate  # noqa: F401
    import projector.rebuild  # noqa: F401
    from chargelog.cli import main as chargelog

    started = time.perf_counter()
    status = chargelog(argv)
    if status:
        sys.exit(status)
    print(f"0 {time.perf_counter() - started:.6f} {peak_rss_kb()}")


def measure(args: list[str]) -> tuple[float, int, int]:
    """Run a child; the seconds, count and peak RSS (kB) it printed on its last line."""
    result = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{args} failed ({result.returncode}):\n{result.stderr}")
    count, seconds, rss = result.stdout.split()[-3:]
    return float(seconds), int(count), int(rss)


def run_one(url: str, rows: int, workdir: Path, rounds: int) -> dict[str, float]:
    started = time.perf_counter()
    days = fill(url, rows)
    fill_s = time.perf_counter() - started
    config = workdir / "bench.ini"
    config.write_text(f"[database]\nurl = {url}\n")
    bare, rebuilt = [], []
    for _ in range(rounds):  # alternated, so a busy moment of the machine hits both alike
        bare.append(measure(["--bare-read", url]))
        assert bare[-1][1] == rows, (bare[-1][1], rows)
        rebuilt.append(measure(["--run-cli", "--config", str(config), "project", "--rebuild"]))
    bare_s, rebuild_s = median(r[0] for r in bare), median(r[0] for r in rebuilt)
    bare_rss, rebuild_rss = max(r[2] for r in bare), max(r[2] for r in rebuilt)
    with open_store(url) as store:
        sessions = store.query_one("SELECT COUNT(*) FROM plugin_session")
    return {
        "days": days,
        "fill_s": fill_s,
        "bare_rate": rows / bare_s,
        "rebuild_rate": rows / rebuild_s,
        "bare_rss_mb": bare_rss / 1024,
        "rebuild_rss_mb": rebuild_rss / 1024,
        "sessions": float(sessions[0]) if sessions else 0.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "mysql", "both"), default="both")
    parser.add_argument("--sizes", default="100000,1000000", help="journal sizes, comma-separated")
    parser.add_argument(
        "--rounds", type=int, default=3, help="timed runs of each, the median shown (default 3)"
    )
    parser.add_argument("--bare-read", metavar="URL", help=argparse.SUPPRESS)
    if len(sys.argv) > 1 and sys.argv[1] == "--run-cli":
        run_cli(sys.argv[2:])
        return 0
    args = parser.parse_args()
    if args.bare_read:
        bare_read(args.bare_read)
        return 0
    backends = ["sqlite", "mysql"] if args.backend == "both" else [args.backend]
    sizes = [int(s) for s in args.sizes.split(",")]
    print(
        f"{'backend':8} {'rows':>9} {'days':>5} {'bare rows/s':>12} {'rebuild rows/s':>15} "
        f"{'ratio':>6} {'bare RSS':>9} {'rebuild RSS':>12} {'sessions':>9}"
    )
    for backend in backends:
        for rows in sizes:
            with tempfile.TemporaryDirectory(prefix="chargelog-replay-") as tmp:
                database = (
                    nullcontext(f"sqlite:///{tmp}/bench.db")
                    if backend == "sqlite"
                    else mysql_database()
                )
                with database as url:
                    r = run_one(url, rows, Path(tmp), args.rounds)
            print(
                f"{backend:8} {rows:>9,} {r['days']:>5.1f} {r['bare_rate']:>12,.0f} "
                f"{r['rebuild_rate']:>15,.0f} {r['rebuild_rate'] / r['bare_rate']:>6.2f} "
                f"{r['bare_rss_mb']:>7.1f}MB {r['rebuild_rss_mb']:>10.1f}MB {r['sessions']:>9.0f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
