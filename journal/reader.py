"""The one ordered stream of the journal: its sealed segments and its live rows, by seq.

Everything that reads the journal (the projector's passes and rebuilds, the detail page's curve,
health, export) reads through here, so none of them knows where a message lives.

Segments hold whole UTC days of one topic group; the seq ranges of a day's segments overlap each
other (chargers interleave) and, after an import of old captures, may overlap live rows. The
stream therefore goes component by component: a run of segments whose seq ranges overlap is
decoded together with the live rows inside its range and sorted once (in C); between components,
live rows are paged by primary key. Memory is bounded by one component, normally one day.

A seal that commits while a reader pages could move rows from one table to the other between two
queries. The projector's passes never see that (a seal holds the projector lock); other readers
read inside one snapshot (Store.snapshot), and the merge drops a seq it has already given.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from operator import itemgetter, lt
from typing import TypeVar

from journal import entries, segments
from journal.entries import Message, RawEntry
from journal.segment_codec import group_of
from journal.segments import SegmentInfo
from journal.storage import Store

PAGE = 5000
T = TypeVar("T", bound=tuple)
# (rows after a position up to a position, at most a number of them)
LivePage = Callable[[int, int, int], list[T]]


def last_seq(store: Store) -> int:
    """The newest position in the journal, sealed or live (0 when it holds nothing)."""
    return max(entries.last_live_seq(store), segments.last_seq(store))


def _components(infos: Sequence[SegmentInfo]) -> list[tuple[int, int, list[SegmentInfo]]]:
    """Segments (sorted by first_seq) grouped into runs whose seq ranges overlap."""
    runs: list[tuple[int, int, list[SegmentInfo]]] = []
    for info in infos:
        if runs and info.first_seq <= runs[-1][1]:
            low, high, members = runs[-1]
            members.append(info)
            runs[-1] = (low, max(high, info.last_seq), members)
        else:
            runs.append((info.first_seq, info.last_seq, [info]))
    return runs


def _live_pages(
    fetch: LivePage[T], after: int, up_to: int, page: int
) -> Iterator[tuple[list[T], int]]:
    """Live rows in (after, up_to] a page at a time, each with the position it covers up to."""
    while after < up_to:
        rows = fetch(after, up_to, page)
        reached = rows[-1][0] if len(rows) == page else up_to
        yield rows, reached
        after = reached


def _ordered(
    store: Store,
    after: int,
    bound: int,
    fetch: LivePage[T],
    decode: Callable[[SegmentInfo], list[T]],
    page: int,
    wanted: Callable[[SegmentInfo], bool] = lambda info: True,
) -> Iterator[tuple[list[T], int]]:
    position = after
    for low, high, members in _components(segments.overlapping(store, after, bound)):
        yield from _live_pages(fetch, position, min(low - 1, bound), page)
        position = max(position, low - 1)
        top = min(high, bound)
        merged: list[T] = [
            row for rows, _ in _live_pages(fetch, position, top, page) for row in rows
        ]
        for info in members:
            if not wanted(info):
                continue
            if position < info.first_seq and info.last_seq <= top:
                merged.extend(decode(info))  # the whole segment is in range: no filter
            else:
                merged.extend(row for row in decode(info) if position < row[0] <= top)
        merged.sort(key=_SEQ)  # runs already in seq order: timsort merges them in C
        merged = _unique(merged)
        for start in range(0, len(merged), page):
            piece = merged[start : start + page]
            yield piece, piece[-1][0] if start + page < len(merged) else top
        if not merged:
            yield [], top
        position = top
    yield from _live_pages(fetch, position, bound, page)


_SEQ = itemgetter(0)


def _unique(rows: list[T]) -> list[T]:
    """Drop a seq given twice (a seal committed between two queries of a reader)."""
    seqs = list(map(_SEQ, rows))
    if all(map(lt, seqs, seqs[1:])):
        return rows
    out: list[T] = []
    for row in rows:
        if not out or out[-1][0] != row[0]:
            out.append(row)
    return out


def key_filter(keys: Sequence[str]) -> Callable[[str], bool]:
    """Whether a topic ends in `/<key>` for one of the keys (any topic when there are none)."""
    if not keys:
        return lambda topic: True
    wanted = frozenset(keys)
    return lambda topic: topic.rpartition("/")[2] in wanted


def raw_pages(
    store: Store,
    after: int,
    bound: int,
    keys: Sequence[str] = (),
    page: int = PAGE,
    skip: Callable[[], Collection[str]] | None = None,
) -> Iterator[tuple[list[RawEntry], int]]:
    """The projector's replay of (after, bound]: pages of entries whose topic ends in one of
    `keys` (all with none), each with the position the page covers up to (a page may be empty
    and still move the position on). `skip`, asked before each read, names topics not wanted
    (the reader of the pages may learn, as it goes, that it needs fewer)."""
    wanted = key_filter(keys)

    def fetch(low: int, high: int, limit: int) -> list[RawEntry]:
        skipped = skip() if skip is not None else ()
        return entries.read_raw_after(store, low, limit, up_to=high, keys=keys, skip=skipped)

    def decode(info: SegmentInfo) -> list[RawEntry]:
        skipped = skip() if skip is not None else ()
        if not skipped:
            return segments.load_raw(store, info, wanted)
        return segments.load_raw(store, info, lambda t: wanted(t) and t not in skipped)

    return _ordered(store, after, bound, fetch, decode, page)


def messages(
    store: Store,
    after: int = 0,
    bound: int | None = None,
    *,
    groups: Iterable[str] | None = None,
    since_us: int | None = None,
    until_us: int | None = None,
    page: int = PAGE,
) -> Iterator[Message]:
    """Every kept field of every message in (after, bound], in seq order; optionally only some
    topic groups (chargers) and receive times in [since, until]."""
    top = last_seq(store) if bound is None else bound
    chosen = frozenset(groups) if groups is not None else None

    def fetch(low: int, high: int, limit: int) -> list[Message]:
        return entries.read_messages(store, low, limit, up_to=high)

    def useful(info: SegmentInfo) -> bool:
        return (
            (chosen is None or info.group in chosen)
            and (since_us is None or info.last_at >= since_us)
            and (until_us is None or info.first_at <= until_us)
        )

    for rows, _ in _ordered(
        store, after, top, fetch, lambda info: segments.load(store, info), page, useful
    ):
        for row in rows:
            if (
                (chosen is None or group_of(row[2]) in chosen)
                and (since_us is None or row[1] >= since_us)
                and (until_us is None or row[1] <= until_us)
            ):
                yield row


def count(store: Store) -> int:
    """Messages in the journal, sealed and live."""
    return entries.count(store) + segments.totals(store).messages


def received_at_or_before(store: Store, position: int) -> int | None:
    """When the last message at or before a journal position was received (microseconds), sealed
    or live; None when the journal holds nothing up to there."""
    best_seq, best_at = -1, None
    live = entries.last_live_at_or_before(store, position)
    if live is not None:
        best_seq, best_at = live
    for info in segments.overlapping(store, best_seq, position):
        if info.last_seq <= position:
            candidate: tuple[int, int] | None = (info.last_seq, info.last_at)
        else:
            inside = [m for m in segments.load(store, info) if m[0] <= position]
            candidate = (inside[-1][0], inside[-1][1]) if inside else None
        if candidate is not None and candidate[0] > best_seq:
            best_seq, best_at = candidate
    return best_at
