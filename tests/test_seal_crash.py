"""kill -9 at any moment of a seal leaves every message exactly once, in a row or in a segment,
and the next seal finishes the work: checked by counting and hashing the whole journal after a
real SIGKILL at each step of a chunk's transaction and at an arbitrary moment."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from journal import entries, reader, sealing, segments
from journal.storage import Store

START_US = 1_767_225_600_000_000  # 2026-01-01 UTC
FAR = 4_000_000_000_000_000
ROOT = Path(__file__).resolve().parent.parent

# Runs a seal in chunks of 1,500 rows and SIGKILLs itself at the n-th call of one step:
# `before`/`after` a function of the seal's transaction (segments.write, entries.delete_ranges,
# the store's commit). `none 0` seals without dying (killed from outside by the test).
SEALER = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, sys.argv[5])
    from journal import entries, sealing, segments
    from journal.storage import open_store

    url, when, name, nth = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    store = open_store(url)
    calls = [0]

    def dying(function):
        def wrapped(*args, **kwargs):
            calls[0] += 1
            if when == "before" and calls[0] == nth:
                os.kill(os.getpid(), signal.SIGKILL)
            result = function(*args, **kwargs)
            if when == "after" and calls[0] == nth:
                os.kill(os.getpid(), signal.SIGKILL)
            return result
        return wrapped

    if name == "write":
        segments.write = dying(segments.write)
    elif name == "delete_ranges":
        entries.delete_ranges = dying(entries.delete_ranges)
    elif name == "commit":
        type(store).commit = dying(type(store).commit)
    print("sealing", flush=True)
    sealing.seal(store, position=int(sys.argv[6]), before_us=int(sys.argv[7]), chunk=1500)
    """
)


def fill(store: Store) -> None:
    """Three days of three chargers, a message every 20 s each, a few of them imported."""
    rows: list[entries.Row] = []
    for i in range(3 * 4320):
        at = START_US + i * 20_000_000
        for charger in ("openevse-aa01", "openevse-bb02", "openevse"):
            key = ("state", "amp", "temp", "vehicle")[i % 4]
            rows.append(
                (
                    entries.micros_text(at + len(charger)),
                    f"{charger}/{key}",
                    b"%d" % (i % 7),
                    i % 2,
                    0,
                )
            )
    for start in range(0, len(rows), 2000):
        entries.append(store, rows[start : start + 2000])
    entries.append_imported(
        store, [(entries.micros_text(START_US + 7), "openevse/state", b"3", 0, 0, b"k" * 32)]
    )
    store.commit()


def fingerprint(store: Store) -> tuple[int, str]:
    digest = hashlib.sha256()
    count = 0
    with store.snapshot():
        for message in reader.messages(store):
            digest.update(
                repr(
                    (
                        message[0],
                        message[1],
                        message[2],
                        bytes(message[3]),
                        int(message[4]),
                        bool(message[5]),
                        bool(message[6]),
                    )
                ).encode()
            )
            count += 1
    return count, digest.hexdigest()


def run_sealer(url: str, when: str, name: str, nth: int, position: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            SEALER,
            url,
            when,
            name,
            str(nth),
            str(ROOT),
            str(position),
            str(FAR),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


POINTS = [
    ("after", "write", 1),  # a segment written, its rows not yet deleted
    ("after", "delete_ranges", 1),  # rows deleted, not committed
    ("before", "commit", 3),  # a later chunk, just before its commit
    ("after", "commit", 2),  # a chunk committed, before the next one begins
]


@pytest.mark.parametrize(("when", "name", "nth"), POINTS)
def test_kill_9_inside_a_seal_loses_and_doubles_nothing(
    store: Store, db_url: str, when: str, name: str, nth: int
) -> None:
    fill(store)
    original = fingerprint(store)
    position = reader.last_seq(store)
    process = run_sealer(db_url, when, name, nth, position)
    _, err = process.communicate(timeout=300)
    assert process.returncode == -signal.SIGKILL, err
    store.rollback()
    assert fingerprint(store) == original
    assert entries.count(store) + segments.totals(store).messages == original[0]
    sealing.seal(store, position=position, before_us=FAR)  # the next run finishes the work
    assert fingerprint(store) == original
    assert entries.count(store) == 0


def test_kill_9_at_arbitrary_moments(store: Store, db_url: str) -> None:
    fill(store)
    original = fingerprint(store)
    position = reader.last_seq(store)
    killed = 0
    for delay in (0.05, 0.3, 0.8, 1.5):  # (the first for a fast machine: SQLite seals quickly)
        process = run_sealer(db_url, "none", "", 0, position)
        assert process.stdout is not None
        process.stdout.readline()  # started sealing
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
        killed += process.returncode == -signal.SIGKILL
        store.rollback()
        assert fingerprint(store) == original
    assert killed, "no kill landed while the seal ran"
    sealing.seal(store, position=position, before_us=FAR)
    assert fingerprint(store) == original
    assert entries.count(store) == 0
    assert sum(info.count for info in segments.every(store)) == original[0]
