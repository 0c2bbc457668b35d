"""Import speed: `chargelog import` of a 1M-line `mosquitto_sub -v -F '%U %t %p'` capture.

    python bench/import_lines.py                    # 1,000,000 lines, SQLite and MariaDB
    python bench/import_lines.py --lines 200000 --backend sqlite

It writes the capture from simulated OpenEVSE traffic (3 chargers, every fault of the
reference), then times the real command (a subprocess) into a fresh SQLite file and a fresh
MariaDB database, twice each: the first import adds every line, the second must add none (the
import key makes a re-import a no-op) and shows what that check costs. Goal: well under a minute
for 1M lines on both.
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator.traffic import SimulationSpec, default_chargers, parse_faults, simulate
from tests.services import mysql_database


def write_capture(path: Path, lines: int) -> None:
    spec = SimulationSpec(
        chargers=default_chargers(3, ["5.x", "4.1", "2.x"], seed=5),
        start=datetime(2026, 1, 1, tzinfo=UTC),
        days=3650,
        seed=5,
        faults=parse_faults("all"),
    )
    with path.open("wb") as handle:
        for count, message in enumerate(simulate(spec).messages(), start=1):
            handle.write(message.line() + b"\n")
            if count == lines:
                break


def import_once(url: str, capture: Path, workdir: Path) -> tuple[float, str]:
    config = workdir / "import.ini"
    config.write_text(f"[database]\nurl = {url}\n")
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "chargelog.cli", "--config", str(config), "import", str(capture)],
        capture_output=True,
        text=True,
        check=True,
    )
    return time.perf_counter() - started, result.stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("sqlite", "mysql", "both"), default="both")
    args = parser.parse_args()
    backends = ["sqlite", "mysql"] if args.backend == "both" else [args.backend]
    with tempfile.TemporaryDirectory(prefix="chargelog-import-") as tmp:
        workdir = Path(tmp)
        capture = workdir / "capture.txt"
        write_capture(capture, args.lines)
        size_mb = capture.stat().st_size / 1e6
        print(f"capture: {args.lines:,} lines, {size_mb:.0f} MB")
        print(f"{'backend':8} {'run':>6} {'seconds':>8} {'lines/s':>10}  result")
        for backend in backends:
            database = (
                nullcontext(f"sqlite:///{workdir / 'import.db'}")
                if backend == "sqlite"
                else mysql_database()
            )
            with database as url:
                for run in ("first", "again"):
                    seconds, summary = import_once(url, capture, workdir)
                    rate = args.lines / seconds
                    print(
                        f"{backend:8} {run:>6} {seconds:>8.1f} {rate:>10,.0f}  {summary}",
                        flush=True,
                    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
