"""`chargelog import`: backfill the journal from `mosquitto_sub` output, in either of two formats,
told apart line by line:

- `mosquitto_sub -F '%U %t %p'` (the text format): time, topic, and the rest of the line as the
  payload; qos and retained are stored as 0;
- `mosquitto_sub -F '%U %r %q %t %x'` (the hex format, what `chargelog export --format hex`
  writes): exactly five space-separated fields, the second 0 or 1 (retained), the third 0, 1 or
  2 (qos), the fifth an even number of hex digits (empty for an empty payload). Any other line
  is read as text (so a text line whose topic is `0` or `1`, followed by a qos-like word, a topic
  and a hex-like word, would be taken for hex: no OpenEVSE topic looks like that).

A re-import adds nothing:

- Live rows: each line gets a deterministic key, SHA-256 of its time (nanoseconds, as `%U`
  prints them), topic, payload and its occurrence number among identical lines of the same
  time, stored in the journal's unique `import_key` column; rows whose key is already there are
  skipped by the database. The key does not depend on the format: the same message gives the
  same key from a text line and from a hex line.
- Sealed messages: segments keep no import key, only whether a message was imported and its
  receive time in microseconds. So before a batch is inserted, the segments whose time range
  overlaps it, of its topic groups, that hold imported messages are decoded (a few are kept
  decoded for the whole run) and a line is skipped when they hold at least occurrence + 1
  imported messages with its (microsecond, topic, payload), where the occurrence counts the
  identical (microsecond, topic, payload) lines before it in the same run of lines of that
  microsecond (as the key's count does per nanosecond: a microsecond's lines that the key told
  apart by their nanoseconds are counted together here, like the segment holds them). Skipped
  lines count as `already`. Recorded (not imported) messages are never matched: a capture of
  what the recorder also received was never de-duplicated against it, sealed or not.
  A seal that commits between a batch's check and its insert could let that batch's lines in
  twice; sealing only moves days already projected and days old, so this needs a re-import of
  those very lines at the moment they are sealed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sys
import time
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from journal import entries, segments
from journal.entries import micros_text
from journal.segment_codec import group_of
from journal.segments import SegmentInfo
from journal.storage import StorageUnavailable, Store

log = logging.getLogger(__name__)

_TIMESTAMP = re.compile(rb"^(\d{1,11})(?:\.(\d{1,9}))?$")
_HEX = re.compile(rb"^(?:[0-9a-fA-F]{2})*$")
MIN_EPOCH = 946684800  # 2000-01-01: anything earlier is a mangled line, not an OpenEVSE reading
MAX_EPOCH = 4102444800  # 2100-01-01
BATCH = 5000
# Seconds before each new attempt at a batch whose transaction the database ended (connection
# lost, lock wait timeout 1205, deadlock or Galera certification failure 1213). A replay adds
# nothing twice: rows carry their import_key.
RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0)
SEALED_CACHE = 4  # decoded segments kept per import run (a batch spans a day or two per charger)


class LineError(ValueError):
    """Why one line cannot be imported."""


@dataclass
class ImportReport:
    lines: int = 0
    added: int = 0
    already: int = 0
    skipped: list[tuple[str, int, str]] = field(default_factory=list)


def _epoch_ns(stamp: bytes) -> int:
    match = _TIMESTAMP.match(stamp)
    if not match:
        raise LineError(f"does not start with a Unix time in seconds: {stamp[:40]!r}")
    seconds = int(match[1])
    if not MIN_EPOCH <= seconds < MAX_EPOCH:
        raise LineError(f"time {seconds} is outside 2000..2100")
    return seconds * 1_000_000_000 + int((match[2] or b"0").ljust(9, b"0"))


def _topic(topic_bytes: bytes) -> str:
    if not topic_bytes:
        raise LineError("has no topic")
    try:
        topic = topic_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise LineError("topic is not UTF-8") from None
    if "+" in topic or "#" in topic or "\0" in topic:
        raise LineError(f"topic {topic!r} contains a wildcard or NUL")
    return topic


def parse_line(line: bytes) -> tuple[int, str, bytes]:
    """One text line (`%U %t %p`) as (epoch nanoseconds, topic, payload); the payload is the
    rest of the line."""
    stamp, sep, rest = line.partition(b" ")
    ns = _epoch_ns(stamp)
    topic_bytes, _, payload = rest.partition(b" ")
    if not sep:
        raise LineError("has no topic")
    return ns, _topic(topic_bytes), payload


# (epoch nanoseconds, topic, payload, qos, retained)
Parsed = tuple[int, str, bytes, int, int]


def _hex_fields(line: bytes) -> list[bytes] | None:
    """The five fields of a `%U %r %q %t %x` line, None when the line is not one."""
    fields = line.split(b" ")
    if (
        len(fields) == 5
        and fields[1] in (b"0", b"1")
        and fields[2] in (b"0", b"1", b"2")
        and _HEX.match(fields[4])
    ):
        return fields
    return None


def parse_any(line: bytes) -> Parsed:
    """A hex line (`%U %r %q %t %x`) or else a text line (`%U %t %p`, qos and retained 0)."""
    fields = _hex_fields(line)
    if fields is None:
        ns, topic, payload = parse_line(line)
        return ns, topic, payload, 0, 0
    stamp, retained, qos, topic_bytes, payload_hex = fields
    return (
        _epoch_ns(stamp),
        _topic(topic_bytes),
        bytes.fromhex(payload_hex.decode("ascii")),
        int(qos),
        int(retained),
    )


def _lines(handle: BinaryIO) -> Iterator[bytes]:
    for raw in handle:
        yield raw[:-1] if raw.endswith(b"\n") else raw


def import_key(epoch_ns: int, topic: str, payload: bytes, occurrence: int) -> bytes:
    digest = hashlib.sha256()
    digest.update(b"%d\0%s\0%d\0" % (epoch_ns, topic.encode(), occurrence))
    digest.update(payload)
    return digest.digest()


# A parsed line waiting for its batch: (received_at µs, occurrence among identical lines of that
# microsecond, topic, payload, qos, retained, import_key).
Pending = tuple[int, int, str, bytes, int, int, bytes]


class SealedImports:
    """The imported messages of sealed segments, counted by (microsecond, topic, payload), for
    the check that keeps a re-import of sealed lines from adding them again. Segments never
    change once written, so the last few decoded stay valid for the whole import."""

    def __init__(self, size: int = SEALED_CACHE) -> None:
        self.size = size
        self._held: OrderedDict[int, Counter[tuple[int, str, bytes]]] = OrderedDict()

    def _counts(self, store: Store, info: SegmentInfo) -> Counter[tuple[int, str, bytes]]:
        counts = self._held.get(info.id)
        if counts is not None:
            self._held.move_to_end(info.id)
            return counts
        counts = Counter((m[1], m[2], m[3]) for m in segments.load(store, info) if m[6])
        self._held[info.id] = counts
        while len(self._held) > self.size:
            self._held.popitem(last=False)
        return counts

    def new_lines(self, store: Store, batch: Sequence[Pending]) -> list[Pending]:
        """The lines of a batch that the sealed segments do not hold already."""
        if not batch:
            return []
        groups = {topic: group_of(topic) for topic in {line[2] for line in batch}}
        infos = segments.received_between(
            store, min(line[0] for line in batch), max(line[0] for line in batch), groups.values()
        )
        by_group: dict[str, list[SegmentInfo]] = {}
        for info in infos:
            if info.imported > 0:
                by_group.setdefault(info.group, []).append(info)
        if not by_group:
            return list(batch)
        fresh = []
        for line in batch:
            micros, occurrence, topic, payload = line[:4]
            held = 0
            for info in by_group.get(groups[topic], ()):
                if info.first_at <= micros <= info.last_at:
                    held += self._counts(store, info).get((micros, topic, payload), 0)
            if held <= occurrence:
                fresh.append(line)
        return fresh


def import_stream(
    store: Store,
    name: str,
    handle: BinaryIO,
    report: ImportReport,
    progress: object = None,
    sealed: SealedImports | None = None,
) -> None:
    """Import one file's lines in batches, one transaction per batch."""
    sealed = SealedImports() if sealed is None else sealed
    batch: list[Pending] = []
    same_ns: dict[tuple[str, bytes], int] = {}
    same_us: dict[tuple[str, bytes], int] = {}
    last_ns = last_us = -1
    for number, line in enumerate(_lines(handle), start=1):
        report.lines += 1
        if progress is not None:
            progress.update(len(line) + 1)  # type: ignore[attr-defined]
        if not line.strip():
            continue
        try:
            ns, topic, payload, qos, retained = parse_any(line)
        except LineError as exc:
            report.skipped.append((name, number, str(exc)))
            continue
        micros = ns // 1000
        if ns != last_ns:
            same_ns.clear()
            last_ns = ns
        if micros != last_us:
            same_us.clear()
            last_us = micros
        occurrence = same_ns.get((topic, payload), 0)
        same_ns[(topic, payload)] = occurrence + 1
        in_micro = same_us.get((topic, payload), 0)
        same_us[(topic, payload)] = in_micro + 1
        key = import_key(ns, topic, payload, occurrence)
        batch.append((micros, in_micro, topic, payload, qos, retained, key))
        if len(batch) >= BATCH:
            _flush(store, batch, report, sealed)
    _flush(store, batch, report, sealed)


def _flush(store: Store, batch: list[Pending], report: ImportReport, sealed: SealedImports) -> None:
    """One batch in one transaction, without the lines already sealed. The recorder may be
    writing meanwhile: the import then waits for its commit (journal positions are handed out
    one writer at a time), and a batch the database gave up on is replayed whole, a few times,
    before the import stops."""
    if not batch:
        return
    for delay in (*RETRY_DELAYS, None):
        try:
            fresh = sealed.new_lines(store, batch)
            rows = [(micros_text(p[0]), p[2], p[3], p[4], p[5], p[6]) for p in fresh]
            with store.transaction():
                added = entries.append_imported(store, rows)
            break
        except StorageUnavailable as exc:
            if delay is None:
                raise
            log.warning("batch of %d line(s) not committed (%s); retrying", len(batch), exc)
            time.sleep(delay)
    report.added += added
    report.already += len(batch) - added
    batch.clear()


def import_files(store: Store, paths: Iterable[str], show_progress: bool) -> ImportReport:
    """Import each path (`-` is standard input), with a progress bar on a terminal."""
    from tqdm import tqdm

    report = ImportReport()
    sealed = SealedImports()
    for path in paths:
        if path == "-":
            import_stream(store, "<stdin>", sys.stdin.buffer, report, sealed=sealed)
            continue
        with open(path, "rb") as handle:
            size = _size(handle)
            with tqdm(
                total=size, unit="B", unit_scale=True, desc=path, disable=not show_progress
            ) as bar:
                import_stream(store, path, handle, report, bar, sealed)
    return report


def _size(handle: BinaryIO) -> int | None:
    try:
        return os.fstat(handle.fileno()).st_size
    except OSError:
        return None
