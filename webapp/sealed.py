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
from itertools import groupby, islice, pairwise
from operator import itemgetter, le

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
    smallest: float  # of the values
    largest: float

    @property
    def size(self) -> int:
        return len(self.seqs) * 24


Columns = dict[str, Column]


def _columns(store: Store, info: SegmentInfo, topics: frozenset[str]) -> Columns:
    """Decode a segment's messages of these topics (raises segments.SegmentDamaged), in bulk:
    a stable sort by topic keeps each topic's messages in seq order."""
    entries = segments.load_raw(store, info, lambda topic: topic in topics)
    entries.sort(key=_TOPIC)
    # Payloads repeat: each distinct one is read once.
    parsed = {payload: sql_real(payload) for payload in set(map(_PAYLOAD, entries))}
    out: Columns = {}
    for topic, group in groupby(entries, key=_TOPIC):
        rows = list(group)
        micros = array("q", map(_MICROS, rows))
        values = array("d", map(parsed.__getitem__, map(_PAYLOAD, rows)))
        out[topic] = Column(
            array("q", map(_SEQ, rows)),
            micros,
            values,
            all(map(le, micros, islice(micros, 1, None))),
            min(values),
            max(values),
        )
    return out


_SEQ, _MICROS, _TOPIC, _PAYLOAD = itemgetter(0), itemgetter(1), itemgetter(2), itemgetter(3)


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


# A bucket's readings of one topic: (sum, count, max), enough to merge live and sealed parts.
Sums = tuple[float, int, float]
# topic -> bucket index -> sums
Buckets = dict[str, dict[int, Sums]]


def merge(buckets: dict[int, Sums], more: dict[int, Sums]) -> None:
    """Add one part's buckets of a topic to another's (only shared buckets need adding up)."""
    shared = buckets.keys() & more.keys()
    for index in shared:
        (t1, n1, p1), (t2, n2, p2) = buckets[index], more[index]
        more[index] = (t1 + t2, n1 + n2, max(p1, p2))
    buckets.update(more)


def sealed_buckets(
    store: Store,
    bases: Collection[str],
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
    in [low, high] received in [start, end], from the segments of these charger base topics.
    Call inside Store.snapshot: a seal committing meanwhile then cannot move messages between
    this read and the live one."""
    wanted = frozenset(topics)
    out: Buckets = {}
    for info in segments.received_between(store, start_us, end_us, groups=list(bases)):
        if info.last_seq < low or info.first_seq > high:
            continue
        for topic, column in CACHE.columns(store, info, wanted).items():
            part = _buckets(column, low, high, start_us, end_us, width_us, ceiling)
            if part:
                merge(out.setdefault(topic, {}), part)
    return out


def _buckets(
    column: Column,
    low: int,
    high: int,
    start_us: int,
    end_us: int,
    width_us: int,
    ceiling: float,
) -> dict[int, Sums]:
    """A column's buckets of the readings with a seq in [low, high] received in [start, end]."""
    if not (column.ordered and column.smallest >= 0 and column.largest <= ceiling):
        return _buckets_filtered(column, low, high, start_us, end_us, width_us, ceiling)
    # The usual case: times in seq order and no junk value. Then every bucket is one slice of
    # the arrays, its edges found by bisection and its values added up in C: the Python work
    # is per bucket (at most MAX_POINTS), not per reading.
    micros, values = column.micros, column.values
    first = max(bisect_left(micros, start_us), bisect_left(column.seqs, low))
    last = min(bisect_right(micros, end_us), bisect_right(column.seqs, high))
    if first >= last:
        return {}
    lowest = (micros[first] - start_us) // width_us
    highest = (micros[last - 1] - start_us) // width_us
    edges = [first]
    edges += [
        bisect_left(micros, start_us + index * width_us, first, last)
        for index in range(lowest + 1, highest + 1)
    ]
    edges.append(last)
    filled = [(lowest + i, a, b) for i, (a, b) in enumerate(pairwise(edges)) if b > a]
    parts = [values[a:b] for _, a, b in filled]
    return {
        index: (total, b - a, peak)
        for (index, a, b), total, peak in zip(
            filled, map(math.fsum, parts), map(max, parts), strict=True
        )
    }


def _buckets_filtered(
    column: Column,
    low: int,
    high: int,
    start_us: int,
    end_us: int,
    width_us: int,
    ceiling: float,
) -> dict[int, Sums]:
    """_buckets one reading at a time: for junk values, or times out of seq order."""
    grouped: dict[int, list[float]] = {}
    rows: Iterable[tuple[int, int, float]] = zip(
        column.seqs, column.micros, column.values, strict=True
    )
    for seq, at, value in rows:
        if low <= seq <= high and start_us <= at <= end_us and 0 <= value <= ceiling:
            grouped.setdefault((at - start_us) // width_us, []).append(value)
    return {index: (math.fsum(v), len(v), max(v)) for index, v in grouped.items()}
