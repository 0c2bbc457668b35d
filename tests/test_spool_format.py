"""The spool's file format under crashes, damage and garbage (issue 9): a torn tail is cut at
open before anything is appended, a damaged frame costs only itself, a frame whose fields are
not what the recorder writes is never returned, and a spool in the previous version's format is
read once, validated. Plain files: no database, no broker."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from journal.spool import FILE_HEADER, FRAME_MAGIC, Spool, SpoolError, encode

Row = tuple[str, str, bytes, int, int]


def rows(start: int, count: int, *, width: int = 40) -> list[Row]:
    """Numbered rows; payloads of `width` bytes, so a frame has ~90 offsets to tear at."""
    return [
        (
            f"2026-01-01 00:00:{i % 60:02d}.{i:06d}",
            f"openevse-ab12/ü{i}",
            str(i).encode().ljust(width, b"."),
            i % 2,
            int(i % 3 == 0),
        )
        for i in range(start, start + count)
    ]


def everything(spool: Spool) -> list[Row]:
    return [row for batch in spool.read(batch=3) for row in batch]


def frame_bounds(count: int) -> list[tuple[int, int]]:
    """(start, end) of each frame of `rows(0, count)` appended one by one."""
    bounds, at = [], len(FILE_HEADER)
    for row in rows(0, count):
        size = len(encode([row]))
        bounds.append((at, at + size))
        at += size
    return bounds


def test_torn_at_every_byte_of_the_last_frame_then_appended(tmp_path: Path) -> None:
    """A crash anywhere in the last append, then a new run appending: every complete frame is
    drained, the torn one is gone and nothing after it is lost."""
    whole = tmp_path / "whole.spool"
    writer = Spool(whole)
    for row in rows(0, 5):
        writer.append([row])
    data = whole.read_bytes()
    last_start, last_end = frame_bounds(5)[-1]
    assert last_end == len(data)
    path = tmp_path / "recorder.spool"
    for cut in range(last_start, last_end):
        path.write_bytes(data[:cut])
        spool = Spool(path)  # a new process
        spool.append(rows(100, 2))
        assert everything(spool) == rows(0, 4) + rows(100, 2), f"torn at {cut}"
        assert spool.last_read.damaged_regions == 0
        assert spool.inspect().size == path.stat().st_size  # nothing torn left in the file
        spool.clear()


def test_torn_inside_the_first_frame_or_the_file_header(tmp_path: Path) -> None:
    whole = tmp_path / "whole.spool"
    Spool(whole).append(rows(0, 1))
    data = whole.read_bytes()
    path = tmp_path / "recorder.spool"
    for cut in range(1, len(data)):
        path.write_bytes(data[:cut])
        spool = Spool(path)
        spool.append(rows(7, 1))
        assert everything(spool) == rows(7, 1), f"torn at {cut}"
        spool.clear()


@pytest.mark.parametrize("flip", [0x01, 0x80, 0xFF])
def test_a_damaged_byte_in_a_middle_frame_loses_only_that_frame(tmp_path: Path, flip: int) -> None:
    whole = tmp_path / "whole.spool"
    writer = Spool(whole)
    for row in rows(0, 5):
        writer.append([row])
    data = whole.read_bytes()
    start, end = frame_bounds(5)[2]
    path = tmp_path / "recorder.spool"
    expected = rows(0, 2) + rows(3, 2)
    for offset in range(start, end):
        damaged = bytearray(data)
        damaged[offset] ^= flip
        path.write_bytes(bytes(damaged))
        spool = Spool(path)
        assert everything(spool) == expected, f"byte {offset} ^ {flip:#x}"
        report = spool.last_read
        assert (report.damaged_regions, report.damaged_bytes) == (1, end - start)
    # Opening it to append keeps the intact frames after the damage (only a tail is cut).
    spool = Spool(path)
    spool.append(rows(9, 1))
    assert everything(spool) == [*expected, *rows(9, 1)]


def frame(stamp: bytes, topic: bytes, payload: bytes, qos: int, retained: int) -> bytes:
    """A frame built from the documented layout, its checksum right whatever the fields."""
    record = struct.pack("<HIIBB", len(stamp), len(topic), len(payload), qos, retained)
    body = record + stamp + topic + payload
    return FRAME_MAGIC + struct.pack("<I", zlib.crc32(body)) + body


@pytest.mark.parametrize(
    "bad",
    [
        (b"2026-13-01 00:00:00.000000", b"t", 1, 0),  # MariaDB: 1292 Incorrect datetime value
        (b"2026-02-30 00:00:00.000000", b"t", 1, 0),
        (b"\x00\x00\x00\x05openevse/a\x00", b"t", 1, 0),
        (b"0999-01-01 00:00:00.000000", b"t", 1, 0),  # below DATETIME's range
        (b"2026-01-01 00:00:00", b"t", 1, 0),
        (b"2026-01-01 00:00:00.000000", b"\xff\xfe", 1, 0),  # not UTF-8
        (b"2026-01-01 00:00:00.000000", b"", 1, 0),
        (b"2026-01-01 00:00:00.000000", b"t", 3, 0),
        (b"2026-01-01 00:00:00.000000", b"t", 1, 2),
    ],
)
def test_garbage_fields_are_never_returned(
    tmp_path: Path, bad: tuple[bytes, bytes, int, int]
) -> None:
    stamp, topic, qos, retained = bad
    path = tmp_path / "recorder.spool"
    good = rows(0, 2)
    path.write_bytes(
        FILE_HEADER
        + encode(good[:1])
        + frame(stamp, topic, b"payload", qos, retained)
        + encode(good[1:])
    )
    spool = Spool(path)
    assert everything(spool) == good
    assert spool.last_read.invalid_frames == 1


def test_the_layout_is_the_documented_one(tmp_path: Path) -> None:
    row = rows(0, 1)[0]
    stamp, topic, payload, qos, retained = row
    spool = Spool(tmp_path / "recorder.spool")
    spool.append([row])
    assert spool.path.read_bytes() == FILE_HEADER + frame(
        stamp.encode(), topic.encode(), payload, qos, retained
    )


# ---- the previous version's format ---------------------------------------------------------


def old_format(records: list[Row]) -> bytes:
    """What journal/spool.py wrote before issue 9: no header, no magic, no checksum."""
    out = b""
    for stamp, topic, payload, qos, retained in records:
        header = struct.pack("<HIIBB", len(stamp), len(topic.encode()), len(payload), qos, retained)
        out += header + stamp.encode() + topic.encode() + payload
    return out


def test_an_old_spool_is_read_once_before_new_rows(tmp_path: Path) -> None:
    path = tmp_path / "recorder.spool"
    path.write_bytes(old_format(rows(0, 3)))
    spool = Spool(path)
    spool.append(rows(10, 2))  # opening moved the old file aside: it is never appended to
    assert [p.name for p in spool.legacy_paths()] == ["recorder.spool.old1"]
    assert path.read_bytes().startswith(FILE_HEADER)
    assert everything(spool) == rows(0, 3) + rows(10, 2)
    assert spool.last_read.legacy_rows == 3
    # An older chargelog ran again meanwhile (a downgrade) and wrote its format anew.
    path.rename(tmp_path / "new.spool")
    path.write_bytes(old_format(rows(20, 2)))
    again = Spool(path)
    again.open()
    assert [p.name for p in again.legacy_paths()] == ["recorder.spool.old1", "recorder.spool.old2"]
    assert everything(again) == rows(0, 3) + rows(20, 2)
    again.clear()
    assert not again.has_data() and again.legacy_paths() == []
    assert Spool(path).legacy_paths() == [] and not Spool(path).has_data()


def test_an_old_spool_torn_mid_record_then_appended_to_loses_nothing_after(
    tmp_path: Path,
) -> None:
    """The operator's case on main: a kill -9 in the middle of an append, then the old version
    appended 300 more after the torn record. The old reader lost all 300 and journaled a
    garbage row; here every record after the tear is recovered, at every tearing offset."""
    before, torn, after = rows(0, 3), rows(3, 1), rows(4, 300)
    torn_bytes = old_format(torn)
    path = tmp_path / "recorder.spool"
    for cut in range(1, len(torn_bytes)):
        path.write_bytes(old_format(before) + torn_bytes[:cut] + old_format(after))
        spool = Spool(path)
        assert everything(spool) == before + after, f"torn at {cut}"
        spool.clear()


# ---- a full disk -----------------------------------------------------------------------------


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs: a disk that fills (we run as root, as the brief allows)."""
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_refuses_whole_appends_and_leaves_no_torn_frame(small_tmpfs: Path) -> None:
    spool = Spool(small_tmpfs / "recorder.spool")
    appended: list[Row] = []
    with pytest.raises(SpoolError) as refused:
        for index in range(10_000):
            batch = rows(index * 10, 10, width=200)
            spool.append(batch)
            appended += batch
    assert refused.value.full and "free" in str(refused.value)
    check = spool.inspect()
    assert check.size == check.good_end and check.frames == len(appended) > 100
    assert everything(Spool(spool.path)) == appended
    spool.clear()  # the database took them: the space is back
    spool.append(rows(0, 10))
    assert everything(spool) == rows(0, 10)


_FAILING_WRITER = """
import resource, signal, sys
from journal.spool import Spool, SpoolError
from tests.test_spool_format import rows
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), int(sys.argv[2])))
spool = Spool(sys.argv[1])
count = 0
try:
    while True:
        spool.append(rows(count, 10, width=200))
        count += 10
except SpoolError as exc:
    print(count, exc.full, exc, flush=True)
"""


def test_a_write_that_fails_midway_is_cut_back_to_the_last_good_frame(tmp_path: Path) -> None:
    """A write error the free-space check cannot foresee (here EFBIG from RLIMIT_FSIZE, as
    ENOSPC under a quota or a race would be): the partial frames are cut off."""
    path = tmp_path / "recorder.spool"
    done = subprocess.run(
        [sys.executable, "-c", _FAILING_WRITER, str(path), str(50_000)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    assert done.returncode == 0, done.stderr
    count, full, message = done.stdout.split(" ", 2)
    assert full == "False" and "File too large" in message and "EFBIG" in message
    check = Spool(path).inspect()
    assert check.size == check.good_end < 50_000 and check.frames == int(count) > 100
    assert everything(Spool(path)) == rows(0, int(count), width=200)[: int(count)]
