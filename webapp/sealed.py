"""The detail chart's readings from sealed segments: the same buckets the database computes for
live rows (journal.entries.bucketed_sums), added up in Python.

A segment holds one charger's messages of one UTC day and never changes, so the few topics the
chart reads are decoded once into columns (seq, receive time, numeric value) and kept in a small
in-process LRU cache, keyed by the database and the segment: a second look at a sealed session,
or a neighbouring session of the same day, costs no decompression at all.

Values follow the SQL's rules exactly, so a session reads the same before and after its days are
sealed: a payload is read as the longest number at its start (what SQLite's CAST AS REAL and
MariaDB's CAST AS DOUBLE do; none gives 0), a reading counts when it lies within 0..ceiling, and
a bucket is floor((received_at - start) / width) in integer microseconds.
"""

from __future__ import annotations

import math
import re
import threading
from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from itertools import pairwise

from journal import segments
from journal.segments import SegmentInfo
from journal.storage import Store

CACHE_BYTES = 48 << 20  # decoded columns kept at most (about 20 days of a charger charging)
_NUMBER = re.compile(rb"\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")


def sql_real(payload: bytes) -> float:
    """A payload as the database's CAST to a float reads it: its leading number, else 0."""
    found = _NUMBER.match(payload)
    return float(found[1]) if found else 0.0


@dataclass(frozen=True)
class Column:
    """One topic's messages in a segment, in seq order."""

    seqs: array[int]
    micros: array[int]
    values: array[float]
    ordered: bool  # receive times never decrease (always, unless an import mixed them up)

    @property
    def size(self) -> int:
        return len(self.seqs) * 24


Columns = dict[str, Column]


def _columns(store: Store, info: SegmentInfo, topics: frozenset[str]) -> Columns:
    """Decode a segment's messages of these topics (raises segments.SegmentDamaged)."""
    entries = segments.load_raw(store, info, lambda topic: topic in topics)
    parsed: dict[bytes, float] = {}  # payloads repeat: each distinct one is read once
    by_topic: dict[str, tuple[list[int], list[int], list[float]]] = {}
    for seq, at, topic, payload, _retained in entries:
        value = parsed.get(payload)
        if value is None:
            value = parsed[payload] = sql_real(payload)
        seqs, micros, values = by_topic.setdefault(topic, ([], [], []))
        seqs.append(seq)
        micros.append(at)
        values.append(value)
    return {
        topic: Column(
            array("q", seqs),
            array("q", micros),
            array("d", values),
            all(a <= b for a, b in pairwise(micros)),
        )
        for topic, (seqs, micros, values) in by_topic.items()
    }


class SegmentCache:
    """Least recently used decoded columns, at most `budget` bytes of them; thread-safe (the
    server answers requests on several threads). Decoding happens outside the lock."""

    def __init__(self, budget: int = CACHE_BYTES) -> None:
        self.budget = budget
        self._items: OrderedDict[tuple[object, ...], tuple[Columns, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def columns(self, store: Store, info: SegmentInfo, topics: frozenset[str]) -> Columns:
        # The database (two test databases both have a segment 1) and enough of the segment's
        # row that a segment rewritten under the same id could never be taken for the old one.
        key = (store.target, info.id, info.first_seq, info.last_seq, info.count, topics)
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return found[0]
            self.misses += 1
        decoded = _columns(store, info, topics)
        size = sum(column.size for column in decoded.values()) + 256
        with self._lock:
            if key not in self._items and size <= self.budget:
                self._items[key] = (decoded, size)
                self._bytes += size
                while self._bytes > self.budget:
                    _, (_, dropped) = self._items.popitem(last=False)
                    self._bytes -= dropped
        return decoded

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


CACHE = SegmentCache()


@dataclass
class Sums:
    """A bucket's readings of one topic: enough to merge live and sealed parts exactly."""

    total: float
    count: int
    peak: float

    def add(self, total: float, count: int, peak: float) -> None:
        self.total += total
        self.count += count
        self.peak = max(self.peak, peak)


# (topic, bucket index) -> sums
Buckets = dict[tuple[str, int], Sums]


def sealed_buckets(
    store: Store,
    charger: str,
    topics: Collection[str],
    *,
    low: int,
    high: int,
    start_us: int,
    end_us: int,
    width_us: int,
    ceiling: float,
) -> Buckets:
    """The buckets of the sealed messages of these topics (all of them, no sampling) with a seq
    in [low, high] received in [start, end]. Call inside Store.snapshot: a seal committing
    meanwhile then cannot move messages between this read and the live one."""
    wanted = frozenset(topics)
    out: Buckets = {}
    for info in segments.received_between(store, start_us, end_us, groups=[charger]):
        if info.last_seq < low or info.first_seq > high:
            continue
        for topic, column in CACHE.columns(store, info, wanted).items():
            _add(out, topic, column, low, high, start_us, end_us, width_us, ceiling)
    return out


def _add(
    out: Buckets,
    topic: str,
    column: Column,
    low: int,
    high: int,
    start_us: int,
    end_us: int,
    width_us: int,
    ceiling: float,
) -> None:
    first, last = 0, len(column.seqs)
    if column.ordered:
        first = bisect_left(column.micros, start_us)
        last = bisect_right(column.micros, end_us)
    current = -1
    values: list[float] = []
    rows: Iterable[tuple[int, int, float]] = zip(
        column.seqs[first:last],
        column.micros[first:last],
        column.values[first:last],
        strict=True,
    )
    for seq, at, value in rows:
        if not (low <= seq <= high and start_us <= at <= end_us and 0 <= value <= ceiling):
            continue
        index = (at - start_us) // width_us
        if index != current:
            _flush(out, topic, current, values)
            current, values = index, []
        values.append(value)
    _flush(out, topic, current, values)


def _flush(out: Buckets, topic: str, index: int, values: list[float]) -> None:
    if not values:
        return
    total, count, peak = math.fsum(values), len(values), max(values)
    found = out.get((topic, index))
    if found is None:
        out[(topic, index)] = Sums(total, count, peak)
    else:
        found.add(total, count, peak)
