"""`chargelog import`: backfill the journal from `mosquitto_sub -v -F '%U %t %p'` output.

A re-import adds nothing: each line gets a deterministic key, SHA-256 of its time, topic, payload
and its occurrence number among identical lines with the same time, stored in the journal's unique
`import_key` column; rows whose key is already there are skipped by the database.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from journal import entries
from journal.entries import utc_text
from journal.storage import StorageUnavailable, Store

log = logging.getLogger(__name__)

_TIMESTAMP = re.compile(rb"^(\d{1,11})(?:\.(\d{1,9}))?$")
MIN_EPOCH = 946684800  # 2000-01-01: anything earlier is a mangled line, not an OpenEVSE reading
MAX_EPOCH = 4102444800  # 2100-01-01
BATCH = 5000
# Seconds before each new attempt at a batch whose transaction the database ended (connection
# lost, lock wait timeout 1205, deadlock or Galera certification failure 1213). A replay adds
# nothing twice: rows carry their import_key.
RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0)


class LineError(ValueError):
    """Why one line cannot be imported."""


@dataclass
class ImportReport:
    lines: int = 0
    added: int = 0
    already: int = 0
    skipped: list[tuple[str, int, str]] = field(default_factory=list)


def parse_line(line: bytes) -> tuple[int, str, bytes]:
    """One line as (epoch nanoseconds, topic, payload); the payload is the rest of the line."""
    stamp, sep, rest = line.partition(b" ")
    match = _TIMESTAMP.match(stamp)
    if not match:
        raise LineError(f"does not start with a Unix time in seconds: {stamp[:40]!r}")
    seconds = int(match[1])
    if not MIN_EPOCH <= seconds < MAX_EPOCH:
        raise LineError(f"time {seconds} is outside 2000..2100")
    nanos = int((match[2] or b"0").ljust(9, b"0"))
    topic_bytes, _, payload = rest.partition(b" ")
    if not sep or not topic_bytes:
        raise LineError("has no topic")
    try:
        topic = topic_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise LineError("topic is not UTF-8") from None
    if "+" in topic or "#" in topic or "\0" in topic:
        raise LineError(f"topic {topic!r} contains a wildcard or NUL")
    return seconds * 1_000_000_000 + nanos, topic, payload


def _lines(handle: BinaryIO) -> Iterator[bytes]:
    for raw in handle:
        yield raw[:-1] if raw.endswith(b"\n") else raw


def import_key(epoch_ns: int, topic: str, payload: bytes, occurrence: int) -> bytes:
    digest = hashlib.sha256()
    digest.update(b"%d\0%s\0%d\0" % (epoch_ns, topic.encode(), occurrence))
    digest.update(payload)
    return digest.digest()


def import_stream(
    store: Store, name: str, handle: BinaryIO, report: ImportReport, progress: object = None
) -> None:
    """Import one file's lines in batches, one transaction per batch."""
    batch: list[tuple[str, str, bytes, int, int, bytes]] = []
    same_time: dict[tuple[str, bytes], int] = {}
    last_ns = -1
    for number, line in enumerate(_lines(handle), start=1):
        report.lines += 1
        if progress is not None:
            progress.update(len(line) + 1)  # type: ignore[attr-defined]
        if not line.strip():
            continue
        try:
            ns, topic, payload = parse_line(line)
        except LineError as exc:
            report.skipped.append((name, number, str(exc)))
            continue
        if ns != last_ns:
            same_time.clear()
            last_ns = ns
        occurrence = same_time.get((topic, payload), 0)
        same_time[(topic, payload)] = occurrence + 1
        key = import_key(ns, topic, payload, occurrence)
        batch.append((utc_text(ns), topic, payload, 0, 0, key))
        if len(batch) >= BATCH:
            _flush(store, batch, report)
    _flush(store, batch, report)


def _flush(store: Store, batch: list, report: ImportReport) -> None:
    """One batch in one transaction. The recorder may be writing meanwhile: the import then
    waits for its commit (journal positions are handed out one writer at a time), and a batch
    the database gave up on is replayed whole, a few times, before the import stops."""
    if not batch:
        return
    for delay in (*RETRY_DELAYS, None):
        try:
            with store.transaction():
                added = entries.append_imported(store, batch)
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
    for path in paths:
        if path == "-":
            import_stream(store, "<stdin>", sys.stdin.buffer, report)
            continue
        with open(path, "rb") as handle:
            size = _size(handle)
            with tqdm(
                total=size, unit="B", unit_scale=True, desc=path, disable=not show_progress
            ) as bar:
                import_stream(store, path, handle, report, bar)
    return report


def _size(handle: BinaryIO) -> int | None:
    try:
        return os.fstat(handle.fileno()).st_size
    except OSError:
        return None
