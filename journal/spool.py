"""A local, fsync'ed spool for the minutes the database is away.

Why: while the database is down the recorder cannot acknowledge, the broker's queue for it fills
(`max_queued_messages`, 1000 by default) and then the broker drops messages silently; and QoS 0
messages are never queued for us at all. Spooling to local disk and acknowledging keeps the broker
queue empty, so a database outage of any length loses nothing. When the database returns, the spool
is drained into the journal, in order, before any newer message.

Format (version 2): an 8-byte file header `CHLGSPL\\x02`, then one frame per message:

    magic b"\\xc7SPF" | CRC32 (LE u32) of the rest | received_at length (u16) | topic length (u32)
    | payload length (u32) | qos (u8) | retained (u8) | received_at | topic | payload

Because every frame carries its own magic and checksum, a crash in the middle of an append leaves
a torn tail that `open()` finds and cuts (truncates) before anything else is appended, and a
damaged frame anywhere costs only that frame: the reader skips to the next frame whose checksum
holds, and counts what it skipped. A frame whose fields are not what the recorder writes (the
receive time's text, UTF-8 topic, qos 0/1/2, retained 0/1) is never returned, so nothing the
database would reject, or garbage, is ever journaled.

A spool left by the previous version (no header, no checksums) is moved aside at `open()` to
`<spool>.old1` (`.old2`, ... if one is still waiting) and read once, before the current spool,
with the old reader, every field validated and resynchronised past a torn record. An append
that fails (a full disk: ENOSPC, EDQUOT, or any OSError on write or fsync) cuts the file back to
its last good length and raises SpoolError: the caller then must not acknowledge.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import mmap
import os
import re
import struct
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from journal.config import Config
from journal.entries import Row
from journal.storage.url import parse_database_url

log = logging.getLogger(__name__)

FILE_HEADER = b"CHLGSPL\x02"
FRAME_MAGIC = b"\xc7SPF"
# received_at text length, topic length, payload length, qos, retained (the version 1 record)
_RECORD = struct.Struct("<HIIBB")
_CRC = struct.Struct("<I")
_PREFIX = len(FRAME_MAGIC) + _CRC.size  # magic and checksum before the record header
_STAMP = re.compile(rb"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}\Z")
_STAMP_LEN = 26
_MAX_TOPIC = 65535  # MQTT's longest topic, and what the journal's TEXT column holds
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


class SpoolError(Exception):
    """The spool cannot be written (or read) now; `full` when the disk or quota is exhausted."""

    def __init__(self, message: str, *, full: bool = False) -> None:
        super().__init__(message)
        self.full = full


@dataclass
class ReadReport:
    """What a read skipped: damaged regions (bytes no valid frame covers) and frames whose
    checksum held but whose fields did not validate."""

    damaged_regions: int = 0
    damaged_bytes: int = 0
    invalid_frames: int = 0
    legacy_rows: int = 0
    files: list[str] = field(default_factory=list)

    @property
    def skipped_anything(self) -> bool:
        return bool(self.damaged_regions or self.invalid_frames)


@dataclass(frozen=True)
class SpoolStatus:
    """For the health page: where the spool is, how large, and the free space beside it."""

    path: str
    bytes: int | None  # None: the file cannot be looked at (permissions)
    free_bytes: int | None


@dataclass(frozen=True)
class SpoolCheck:
    """`Spool.inspect()`: intact frames, the end of the last one, the file size, what was
    skipped. `size > good_end` means a torn tail that the next `open()` cuts."""

    frames: int
    good_end: int
    size: int
    report: ReadReport


def default_spool_path(cfg: Config) -> Path:
    """Beside the SQLite file, or in systemd's StateDirectory, or the working directory. The
    recorder and the web page (health) call the same function, so they agree."""
    if cfg.recorder.spool_path:
        return Path(cfg.recorder.spool_path)
    state = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    if state:
        return Path(state) / "recorder.spool"
    target = parse_database_url(cfg.database.url)
    if target.dialect == "sqlite":
        return Path(target.path + ".spool")
    return Path("chargelog-recorder.spool")


def free_bytes(directory: Path) -> int | None:
    """Free space for an unprivileged writer on the filesystem holding `directory` (or its
    nearest existing parent); None when it cannot be known."""
    for candidate in (directory, *directory.parents):
        try:
            stats = os.statvfs(candidate)
        except FileNotFoundError:
            continue
        except OSError:
            return None
        return stats.f_bavail * stats.f_frsize
    return None


def _valid_row(
    stamp: bytes, topic: bytes, payload: bytes, qos: int, retained: int, *, legacy: bool = False
) -> Row | None:
    """The row, or None when a field is not what the recorder writes."""
    if qos > 2 or retained > 1 or not _STAMP.match(stamp) or not 0 < len(topic) <= _MAX_TOPIC:
        return None
    text = stamp.decode("ascii")
    try:
        if datetime.fromisoformat(text).year < 1000:  # MariaDB's DATETIME starts at 1000
            return None
        topic_text = topic.decode("utf-8")
    except ValueError:  # UnicodeDecodeError is a ValueError
        return None
    # No checksum in the old format: control characters in a topic mean we are reading
    # lengths and flags of a neighbouring record, not a topic.
    if legacy and any(ord(c) < 0x20 for c in topic_text):
        return None
    return (text, topic_text, payload, qos, retained)


def encode(rows: Sequence[Row]) -> bytes:
    """The frames for `rows`, ready to append."""
    parts: list[bytes | bytearray] = []
    pack, crc32, pack_crc = _RECORD.pack, zlib.crc32, _CRC.pack
    for received_at, topic, payload, qos, retained in rows:
        stamp = received_at.encode("ascii")
        topic_bytes = topic.encode("utf-8")
        record = b"".join(
            (pack(len(stamp), len(topic_bytes), len(payload), qos, retained), stamp, topic_bytes)
        )
        checksum = crc32(payload, crc32(record))
        parts += (FRAME_MAGIC, pack_crc(checksum), record, payload)
    return b"".join(parts)


# ---- reading ---------------------------------------------------------------------------------
# A "frame at" function: (row or None if its fields are invalid, end offset), or None when no
# well-formed frame starts at `pos` (bad magic, checksum, or lengths past the end).
_Found = tuple[Row | None, int] | None


def _frame_at(data: mmap.mmap | bytes, pos: int) -> _Found:
    size = len(data)
    start = pos + _PREFIX
    if start + _RECORD.size > size or data[pos : pos + 4] != FRAME_MAGIC:
        return None
    stamp_len, topic_len, payload_len, qos, retained = _RECORD.unpack_from(data, start)
    body = start + _RECORD.size
    end = body + stamp_len + topic_len + payload_len
    if end > size:
        return None
    (expected,) = _CRC.unpack_from(data, pos + 4)
    if zlib.crc32(memoryview(data)[start:end]) != expected:
        return None
    topic_at = body + stamp_len
    payload_at = topic_at + topic_len
    row = _valid_row(
        data[body:topic_at], data[topic_at:payload_at], data[payload_at:end], qos, retained
    )
    return row, end


def _legacy_at(data: mmap.mmap | bytes, pos: int) -> _Found:
    """A version 1 record, trusted only if every field validates AND no other valid record
    starts inside it: a record torn by a crash, followed by the next run's records, would
    otherwise swallow them as its payload."""
    size = len(data)
    body = pos + _RECORD.size
    if body > size:
        return None
    stamp_len, topic_len, payload_len, qos, retained = _RECORD.unpack_from(data, pos)
    end = body + stamp_len + topic_len + payload_len
    if stamp_len != _STAMP_LEN or end > size:
        return None
    topic_at = body + stamp_len
    payload_at = topic_at + topic_len
    row = _valid_row(
        data[body:topic_at],
        data[topic_at:payload_at],
        data[payload_at:end],
        qos,
        retained,
        legacy=True,
    )
    if row is None:
        return None
    # Any start in (pos, end), the two marker bytes of the last one reaching past `end`.
    limit = end + len(_LEGACY_START) - 1
    inner = data.find(_LEGACY_START, pos + 1, limit)
    while inner != -1:
        if _legacy_fields_at(data, inner):
            return None
        inner = data.find(_LEGACY_START, inner + 1, limit)
    return row, end


_LEGACY_START = struct.pack("<H", _STAMP_LEN)


def _legacy_fields_at(data: mmap.mmap | bytes, pos: int) -> bool:
    """Whether a plausible version 1 record starts at `pos` (its fields validate)."""
    body = pos + _RECORD.size
    if body + _STAMP_LEN > len(data):
        return False
    stamp_len, topic_len, payload_len, qos, retained = _RECORD.unpack_from(data, pos)
    end = body + stamp_len + topic_len + payload_len
    if stamp_len != _STAMP_LEN or end > len(data):
        return False
    topic_at = body + stamp_len
    return (
        _valid_row(
            data[body:topic_at],
            data[topic_at : topic_at + topic_len],
            b"",
            qos,
            retained,
            legacy=True,
        )
        is not None
    )


def _scan(
    data: mmap.mmap | bytes, pos: int, report: ReadReport, *, legacy: bool
) -> Iterator[tuple[Row | None, int]]:
    """(row or None, end offset) of every well-formed frame from `pos` on; what lies between
    them is counted in `report` as damaged. A damaged region reaching the end of the data is
    the torn tail: not counted here (the caller knows where the last frame ended)."""
    found_at = _legacy_at if legacy else _frame_at
    marker = _LEGACY_START if legacy else FRAME_MAGIC
    size = len(data)
    bad_from: int | None = None
    while pos < size:
        found = found_at(data, pos)
        if found is None:
            if bad_from is None:
                bad_from = pos
            pos = data.find(marker, pos + 1)
            if pos == -1:
                return
            continue
        if bad_from is not None:
            report.damaged_regions += 1
            report.damaged_bytes += pos - bad_from
            bad_from = None
        row, pos = found
        if row is None:
            report.invalid_frames += 1
        yield row, pos


def _open_map(path: Path) -> tuple[int, mmap.mmap | bytes]:
    """A read-only view of a file (empty bytes for an empty one, which mmap refuses)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        return fd, (mmap.mmap(fd, 0, access=mmap.ACCESS_READ) if size else b"")
    except BaseException:
        os.close(fd)
        raise


class Spool:
    """One recorder's spool file; used by one thread (the recorder's writer)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._length: int | None = None  # end of the last good frame, once open
        self._legacy: list[Path] | None = None
        self.last_read = ReadReport()

    # ---- state ---------------------------------------------------------------------------

    def legacy_paths(self) -> list[Path]:
        """Version 1 spools moved aside (`<spool>.old1`, ...), oldest first. Looked up once:
        only `open()` makes them and only `clear()` removes them (has_data runs every tick)."""
        if self._legacy is None:
            prefix = self.path.name + ".old"
            found = []
            with contextlib.suppress(OSError), os.scandir(self.path.parent) as entries:
                for entry in entries:
                    suffix = entry.name[len(prefix) :]
                    if entry.name.startswith(prefix) and suffix.isdigit():
                        found.append((int(suffix), self.path.with_name(entry.name)))
            self._legacy = [p for _, p in sorted(found)]
        return list(self._legacy)

    def has_data(self) -> bool:
        try:
            return self.path.stat().st_size > len(FILE_HEADER) or bool(self.legacy_paths())
        except FileNotFoundError:
            return bool(self.legacy_paths())

    def size_bytes(self) -> int:
        total = 0
        for path in (self.path, *self.legacy_paths()):
            with contextlib.suppress(FileNotFoundError):
                total += path.stat().st_size
        return total

    def status(self) -> SpoolStatus:
        """Size and free space, never raising: the health page shows what it can."""
        try:
            size: int | None = self.size_bytes()
        except OSError:
            size = None
        return SpoolStatus(str(self.path), size, free_bytes(self.path.parent))

    def inspect(self) -> SpoolCheck:
        """A read-only look at the current file (nothing cut, nothing moved): how many intact
        frames, where the last one ends, and the file's size. For tests and diagnostics."""
        report = ReadReport()
        try:
            fd, data = _open_map(self.path)
        except FileNotFoundError:
            return SpoolCheck(0, 0, 0, report)
        try:
            if data[: len(FILE_HEADER)] != FILE_HEADER:
                return SpoolCheck(0, 0, len(data), report)
            frames, end = 0, len(FILE_HEADER)
            for row, frame_end in _scan(data, end, report, legacy=False):
                frames += row is not None
                end = frame_end
            return SpoolCheck(frames, end, len(data), report)
        finally:
            if isinstance(data, mmap.mmap):
                data.close()
            os.close(fd)

    # ---- open: cut a torn tail, move an old-format spool aside --------------------------

    def open(self) -> None:
        """Check the file before anything is appended: an old-format spool is moved aside to
        be read once; a torn or damaged tail (a crash while appending) is cut off."""
        try:
            self._length = self._open()
        except OSError as exc:
            self._length = None
            raise _spool_error(self.path, "open", exc) from exc

    def _open(self) -> int:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return 0
        with open(self.path, "rb") as handle:
            head = handle.read(len(FILE_HEADER))
        if size == 0 or (size < len(FILE_HEADER) and FILE_HEADER.startswith(head)):
            self._cut(0, size, "a torn file header")
            return 0
        if head != FILE_HEADER:
            self._move_legacy_aside()
            return 0
        fd, data = _open_map(self.path)
        try:
            end = len(FILE_HEADER)
            report = ReadReport()
            for _, frame_end in _scan(data, end, report, legacy=False):
                end = frame_end
        finally:
            if isinstance(data, mmap.mmap):
                data.close()
            os.close(fd)
        if report.damaged_regions:
            log.warning(
                "spool %s: %d damaged region(s) (%d bytes) will be skipped when it is drained",
                self.path,
                report.damaged_regions,
                report.damaged_bytes,
            )
        self._cut(end, size, "a torn or damaged tail")
        return end

    def _cut(self, length: int, size: int, what: str) -> None:
        if size <= length:
            return
        with open(self.path, "r+b") as handle:
            handle.truncate(length)
            os.fsync(handle.fileno())
        log.warning(
            "spool %s: cut %s of %d byte(s) at offset %d (a crash in the middle of an append; "
            "that batch was never acknowledged)",
            self.path,
            what,
            size - length,
            length,
        )

    def _move_legacy_aside(self) -> None:
        taken = [int(p.name[len(self.path.name) + 4 :]) for p in self.legacy_paths()]  # .oldN
        target = self.path.with_name(f"{self.path.name}.old{max(taken, default=0) + 1}")
        os.rename(self.path, target)
        self._legacy = None
        _fsync_dir(self.path.parent)
        log.warning(
            "spool %s is in the previous version's format: moved to %s, it is read once "
            "(validated) before the current spool",
            self.path,
            target.name,
        )

    # ---- append ----------------------------------------------------------------------------

    def append(self, rows: Sequence[Row]) -> None:
        """Durably add rows (returns only once they are on disk). On failure the file is cut
        back to its last good length and SpoolError is raised: nothing half-written stays."""
        if self._length is None or self._file_size() != self._length:
            self.open()  # first use, a failed cut-back, or a file changed behind our back
        assert self._length is not None
        good = self._length
        data = encode(rows)
        if good == 0:
            data = FILE_HEADER + data
        available = free_bytes(self.path.parent)
        if available is not None and available < len(data):
            raise SpoolError(
                f"spool {self.path}: {len(data)} bytes needed, {available} free on its disk",
                full=True,
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as exc:
            raise _spool_error(self.path, "open", exc) from exc
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            except OSError as exc:
                self._cut_back(fd, good)
                raise _spool_error(self.path, "append", exc) from exc
        finally:
            os.close(fd)
        if good == 0:
            with contextlib.suppress(OSError):
                _fsync_dir(self.path.parent)  # the new file's name is durable too
        self._length = good + len(data)

    def _file_size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0
        except OSError as exc:
            raise _spool_error(self.path, "open", exc) from exc

    def _cut_back(self, fd: int, good: int) -> None:
        try:
            os.ftruncate(fd, good)
            os.fsync(fd)
        except OSError:
            # Unknown length now: the next append re-opens the file and cuts what is torn.
            self._length = None

    # ---- read and clear --------------------------------------------------------------------

    def read(self, batch: int = 1000) -> Iterator[list[Row]]:
        """The spooled rows in order (old-format spools first), in batches, streamed from
        disk. What was skipped (damaged, invalid) is in `last_read` once it is exhausted."""
        if self._length is None:
            self.open()  # moves an old-format spool aside, so it is read as one
        self.last_read = report = ReadReport()
        rows: list[Row] = []
        for path in (*self.legacy_paths(), self.path):
            legacy = path != self.path
            try:
                fd, data = _open_map(path)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise _spool_error(path, "read", exc) from exc
            try:
                report.files.append(path.name)
                start = 0 if legacy else len(FILE_HEADER)
                if not legacy and data[:start] != FILE_HEADER:
                    continue  # empty, or a torn header: nothing in it
                for row, _ in _scan(data, start, report, legacy=legacy):
                    if row is None:
                        continue
                    rows.append(row)
                    report.legacy_rows += legacy
                    if len(rows) >= batch:
                        yield rows
                        rows = []
            finally:
                if isinstance(data, mmap.mmap):
                    data.close()
                os.close(fd)
        if rows:
            yield rows

    def clear(self) -> None:
        """Forget the spool once its rows are committed to the journal."""
        for path in (*self.legacy_paths(), self.path):
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                self._legacy = None
                raise _spool_error(path, "remove", exc) from exc
        self._length = 0
        self._legacy = []


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _spool_error(path: Path, action: str, exc: OSError) -> SpoolError:
    full = exc.errno in FULL_ERRNOS
    reason = exc.strerror or str(exc)
    code = exc.errno
    name = f" ({errno.errorcode[code]})" if code is not None and code in errno.errorcode else ""
    return SpoolError(f"spool {path}: cannot {action}: {reason}{name}", full=full)
