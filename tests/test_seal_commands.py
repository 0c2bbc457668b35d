"""`chargelog seal` and `chargelog verify` as a user runs them, on both stores: seal moves only
projected days old enough (a dry run writes nothing), says so when there is nothing to do, honours
`[journal] seal_after_days` and the projector lock, shows a bar on a terminal only; verify finds
a flipped byte in a block and in a checksum, names each bad segment with its day, lists them all
and exits 1."""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from journal import entries, reader, segments
from journal.entries import micros_text
from journal.storage import Store
from projector.runner import project_pass
from tests.test_sessions_command import chargelog

DAY_US = 86_400_000_000
CHARGERS = ("openevse-ab12", "openevse-cd34")


def today_us() -> int:
    """Midnight UTC today, in microseconds."""
    return int(time.time() * 1_000_000) // DAY_US * DAY_US


def traffic(start_us: int, count: int = 40, chargers: tuple[str, ...] = CHARGERS) -> list:
    """Journal rows of a few chargers from a moment on: microsecond jitter, every qos and both
    retained flags, a binary and an empty payload."""
    rows = []
    for i in range(count):
        charger = chargers[i % len(chargers)]
        payload = b"\x00\xff\x10" if i % 13 == 5 else b"" if i % 11 == 3 else b"%d.%02d" % (i, i)
        rows.append(
            (micros_text(start_us + i * 1_000_037), f"{charger}/k{i % 5}", payload, i % 3, i % 2)
        )
    return rows


def journal_rows(store: Store, rows: list) -> None:
    entries.append(store, rows)
    store.commit()


def project(store: Store) -> None:
    project_pass(store)
    store.rollback()


def everything(store: Store) -> list[tuple]:
    """Every message with every kept field, in seq order, sealed or live."""
    with store.snapshot():
        return list(reader.messages(store))


def counts(store: Store) -> tuple[int, int, int]:
    """(live rows, segments, seal runs)."""
    row = store.query_one(
        "SELECT (SELECT COUNT(*) FROM journal), (SELECT COUNT(*) FROM journal_segment), "
        "(SELECT COUNT(*) FROM journal_seal_run)"
    )
    store.rollback()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def old_and_new(store: Store) -> tuple[int, int]:
    """40 messages ten days ago, 20 today, all projected: (old, new)."""
    journal_rows(store, traffic(today_us() - 10 * DAY_US + 3_600_000_000))
    journal_rows(store, traffic(today_us() + 60_000_000, count=20))
    project(store)
    return 40, 20


def test_seal_moves_the_due_days_and_a_dry_run_writes_nothing(
    db_url: str, store: Store, tmp_path: Path
) -> None:
    old, new = old_and_new(store)
    before = everything(store)
    dry = chargelog(db_url, tmp_path, "seal", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith(f"would seal {old} message(s) of 1 day(s) into 2 segment(s), ")
    assert counts(store) == (old + new, 0, 0)  # no segment, no deleted row, no recorded run

    done = chargelog(db_url, tmp_path, "seal")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"sealed {old} message(s) of 1 day(s) into 2 segment(s), ")
    assert counts(store) == (new, 2, 1)
    assert everything(store) == before

    again = chargelog(db_url, tmp_path, "seal")
    assert again.returncode == 0, again.stderr
    assert again.stdout == "nothing to seal\n"
    assert counts(store) == (new, 2, 2)  # a run that sealed nothing is still a run


def test_nothing_is_sealed_before_the_projector_passed(
    db_url: str, store: Store, tmp_path: Path
) -> None:
    journal_rows(store, traffic(today_us() - 10 * DAY_US))
    result = chargelog(db_url, tmp_path, "seal")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("nothing sealed: the projector has passed no message yet")
    assert counts(store) == (40, 0, 0)


def test_only_what_the_projector_passed_is_sealed(
    db_url: str, store: Store, tmp_path: Path
) -> None:
    journal_rows(store, traffic(today_us() - 10 * DAY_US))
    project(store)
    journal_rows(store, traffic(today_us() - 9 * DAY_US))  # old enough, not projected yet
    result = chargelog(db_url, tmp_path, "seal")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("sealed 40 message(s) of 1 day(s)")
    assert counts(store) == (40, 2, 1)


def test_seal_after_days_and_older_than(db_url: str, store: Store, tmp_path: Path) -> None:
    """0 turns sealing off unless --older-than asks; --older-than overrides the config. Due is
    what was received before the UTC day N days ago began: a message of three days ago is due
    with N = 2, not with N = 3."""
    journal_rows(store, traffic(today_us() - 3 * DAY_US))
    project(store)
    off = "[journal]\nseal_after_days = 0\n"
    result = chargelog(db_url, tmp_path, "seal", more_config=off)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("sealing is off ([journal] seal_after_days = 0)")
    assert counts(store) == (40, 0, 0)

    result = chargelog(db_url, tmp_path, "seal", "--older-than", "5", more_config=off)
    assert result.stdout == "nothing to seal\n" and counts(store) == (40, 0, 1)
    result = chargelog(db_url, tmp_path, "seal", more_config="[journal]\nseal_after_days = 3\n")
    assert result.stdout == "nothing to seal\n" and counts(store) == (40, 0, 2)
    result = chargelog(db_url, tmp_path, "seal", "--older-than", "2", more_config=off)
    assert result.stdout.startswith("sealed 40 message(s)"), result.stderr
    assert counts(store) == (0, 2, 3)

    bad = chargelog(db_url, tmp_path, "seal", "--older-than", "-1")
    assert bad.returncode == 2 and "give 0 or more" in bad.stderr


def test_seal_waits_for_the_projector_lock(db_url: str, store: Store, tmp_path: Path) -> None:
    from tests.test_projector_service import open_lock  # which imports this module's helpers

    old_and_new(store)
    with open_lock(db_url):
        refused = chargelog(db_url, tmp_path, "seal", "--wait", "0")
    assert refused.returncode == 1
    assert refused.stderr == "chargelog: another projector held the lock for 0 s\n"
    assert refused.stdout == "" and counts(store) == (60, 0, 0)


def test_the_bar_shows_on_a_terminal_only(db_url: str, store: Store, tmp_path: Path) -> None:
    old_and_new(store)
    quiet = chargelog(db_url, tmp_path, "seal", "--dry-run")
    assert quiet.returncode == 0
    assert "positions" not in quiet.stderr and "%|" not in quiet.stderr

    leader, follower = os.openpty()
    # A terminal of 100 columns (a fresh pty has none, and tqdm draws nothing in none).
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        shown = subprocess.run(
            [sys.executable, "-m", "chargelog.cli", "--config", str(tmp_path / "c.ini"), "seal"],
            stdout=subprocess.PIPE,
            stderr=follower,
            timeout=60,
            cwd=tmp_path,
        )
        os.close(follower)
        follower = -1
        terminal = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal's other end is closed
                break
            if not chunk:
                break
            terminal += chunk
    finally:
        if follower != -1:
            os.close(follower)
        os.close(leader)
    assert shown.returncode == 0
    assert b"sealing: 100%|" in terminal and b"positions" in terminal
    assert shown.stdout.startswith(b"sealed 40 message(s)")


# ---- verify -----------------------------------------------------------------------------------


def three_sealed_days(db_url: str, store: Store, tmp_path: Path) -> list[segments.SegmentInfo]:
    """Two chargers on three old days, sealed: six segments."""
    for days_ago in (12, 11, 10):
        journal_rows(store, traffic(today_us() - days_ago * DAY_US + 7_200_000_000))
    project(store)
    result = chargelog(db_url, tmp_path, "seal")
    assert result.stdout.startswith("sealed 120 message(s) of 3 day(s) into 6 segment(s)")
    infos = segments.every(store)
    store.rollback()
    assert len(infos) == 6
    return infos


def flip(store: Store, info: segments.SegmentInfo, column: str, at: int) -> None:
    """One bit of one byte of a segment's block or checksum, changed in the database."""
    row = store.query_one(f"SELECT {column} FROM journal_segment WHERE id = ?", (info.id,))
    assert row is not None
    data = bytearray(row[0])
    data[at % len(data)] ^= 0x04
    store.execute(f"UPDATE journal_segment SET {column} = ? WHERE id = ?", (bytes(data), info.id))
    store.commit()


def test_verify_passes_a_sound_journal(db_url: str, store: Store, tmp_path: Path) -> None:
    empty = chargelog(db_url, tmp_path, "verify")
    assert empty.returncode == 0, empty.stderr
    assert empty.stdout == "0 segment(s) verified: 0 OK holding 0 message(s)\n"
    three_sealed_days(db_url, store, tmp_path)
    sound = chargelog(db_url, tmp_path, "verify")
    assert sound.returncode == 0, sound.stderr
    assert sound.stdout == "6 segment(s) verified: 6 OK holding 120 message(s)\n"


def test_verify_names_every_damaged_segment_and_its_day(
    db_url: str, store: Store, tmp_path: Path
) -> None:
    infos = three_sealed_days(db_url, store, tmp_path)
    in_block, in_checksum = infos[1], infos[4]
    flip(store, in_block, "block", 40)
    flip(store, in_checksum, "checksum", 7)
    result = chargelog(db_url, tmp_path, "verify")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 3, result.stdout
    for line, info in zip(lines[:2], (in_block, in_checksum), strict=True):
        assert line.startswith(f"journal segment {info.id} ({info.group}, {info.day}) is damaged")
    sound = sum(info.count for info in infos) - in_block.count - in_checksum.count
    assert lines[2] == f"6 segment(s) verified: 4 OK holding {sound} message(s), 2 damaged"
    assert "Traceback" not in result.stderr


def test_verify_sees_a_block_whose_every_byte_was_flipped(
    db_url: str, store: Store, tmp_path: Path
) -> None:
    """Wherever the flipped byte is (the header, the compressed body, its end), verify says so."""
    infos = three_sealed_days(db_url, store, tmp_path)
    target = infos[0]
    row = store.query_one("SELECT LENGTH(block) FROM journal_segment WHERE id = ?", (target.id,))
    store.rollback()
    assert row is not None
    size = int(row[0])
    for at in sorted({0, 1, size // 3, size // 2, size - 2, size - 1}):
        flip(store, target, "block", at)
        with store.snapshot():
            try:
                segments.verify(store, target)
            except segments.SegmentDamaged as exc:
                assert f"journal segment {target.id} ({target.group}, {target.day})" in str(exc)
            else:
                raise AssertionError(f"a flipped byte at {at} of {size} went unnoticed")
        flip(store, target, "block", at)  # back as it was
    result = chargelog(db_url, tmp_path, "verify")
    assert result.returncode == 0, result.stdout
