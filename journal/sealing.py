"""`chargelog seal`: move closed days of the journal into compressed segments, losslessly.

Due are the live rows received before the start of the UTC day `[journal] seal_after_days` ago
and already passed by the projector (seq <= its checkpoint, which the caller gives: the journal
knows nothing of the projector). They are read in seq order, a bounded chunk at a time; each
chunk is grouped by topic group and UTC day, every group-day is encoded, decoded again and
compared with the rows it came from, and only then written: its segments and the deletion of
its rows in one transaction. A crash at any moment leaves each message exactly once, in a row
or in a segment, and the next run goes on where this one stopped.

The caller holds the projector lock: no pass reads while rows move, and no two seals overlap.
The recorder is never blocked for longer than one chunk's writes: reading and encoding happen
before the first write of the transaction, and on MySQL the transaction runs at READ COMMITTED
so its deletes take no gap locks where the recorder inserts.
"""

from __future__ import annotations

import logging
import time
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import compress, pairwise
from operator import itemgetter, sub

from journal import entries, segment_codec, segments
from journal.entries import Message, micros_text
from journal.reader import key_filter
from journal.segment_codec import group_of
from journal.storage import Store

log = logging.getLogger(__name__)

DAY_US = 86_400_000_000
PAGE = 5000
CHUNK = 200_000  # rows per transaction: about a day of two chargers at the firmware's cadence
# Within one group-day, rows further apart than this in seq go into separate segments: a day
# imported long after it was recorded must not make one segment span the whole journal (the
# reader decodes overlapping segments together).
SPLIT_GAP = 1_000_000


class SealCheckFailed(Exception):
    """A block did not decode back to the rows it was made of: nothing was sealed."""


@dataclass
class SealReport:
    dry_run: bool = False
    segments: int = 0
    messages: int = 0
    block_bytes: int = 0
    row_bytes: int = 0  # payload and topic bytes of the sealed rows
    days: set[str] = field(default_factory=set)
    # Where the time went (seconds): reading the rows, encoding and checking the blocks, and
    # writing segments, deleting rows and committing. The last is the database's own work.
    read_s: float = 0.0
    encode_s: float = 0.0
    write_s: float = 0.0

    def summary(self) -> str:
        verb = "would seal" if self.dry_run else "sealed"
        if not self.messages:
            return "nothing to seal"
        ratio = self.block_bytes / self.messages
        return (
            f"{verb} {self.messages} message(s) of {len(self.days)} day(s) into "
            f"{self.segments} segment(s), {self.block_bytes} bytes ({ratio:.2f} bytes a message)"
        )


def cutoff(now_us: int, after_days: int) -> int:
    """Rows received before this moment are old enough: the start of the UTC day `after_days`
    days before today."""
    return (now_us // DAY_US - after_days) * DAY_US


def day_of(micros: int) -> str:
    return micros_text(micros - micros % DAY_US)[:10]


Progress = Callable[[int], None]


def seal(
    store: Store,
    *,
    position: int,
    before_us: int,
    dry_run: bool = False,
    progress: Progress | None = None,
    chunk: int = CHUNK,
    replayed_keys: Sequence[str] = (),
) -> SealReport:
    """Seal the rows at or below `position` received before `before_us`. The receive times of
    topics ending in one of `replayed_keys` (the projector's) are kept apart in each block, so
    a replay of those topics decodes only them; every message is kept either way."""
    replayed = key_filter(replayed_keys) if replayed_keys else None
    report = SealReport(dry_run=dry_run)
    started = time.time()
    after = 0
    pending: list[Message] = []
    kept: list[int] = []  # scanned rows that stay live (too new), in seq order
    while after < position:
        reading = time.perf_counter()
        rows = entries.read_messages(store, after, PAGE, up_to=position)
        report.read_s += time.perf_counter() - reading
        if not rows:
            break
        due = list(map(before_us.__gt__, map(itemgetter(1), rows)))
        if all(due):
            pending.extend(rows)
        else:
            pending.extend(compress(rows, due))
            kept.extend(row[0] for row, old in zip(rows, due, strict=True) if not old)
        covered = rows[-1][0] - after
        after = rows[-1][0]
        if progress is not None:
            progress(covered)
        if len(pending) >= chunk:
            _flush(store, pending, kept, report, dry_run, replayed)
            pending, kept = [], [seq for seq in kept if seq > after]
    if pending:
        _flush(store, pending, kept, report, dry_run, replayed)
    store.rollback()  # end the last read transaction
    if not dry_run:
        with store.transaction():
            store.execute(
                "INSERT INTO journal_seal_run (started_at, finished_at, segments, messages) "
                "VALUES (?, ?, ?, ?)",
                (
                    micros_text(int(started * 1e6)),
                    micros_text(int(time.time() * 1e6)),
                    report.segments,
                    report.messages,
                ),
            )
    return report


def last_run(store: Store) -> int | None:
    """When the last seal run finished (microseconds), None if none ever ran."""
    row = store.query_one("SELECT MAX(finished_at) FROM journal_seal_run")
    return entries.to_micros(row[0]) if row and row[0] is not None else None


def _group_days(rows: list[Message]) -> dict[tuple[str, str], list[list[Message]]]:
    """Rows (in seq order) by topic group and UTC day, each split where seq jumps far. In bulk:
    a chunk holds few group-days (two chargers: one or two days each), so each is picked out
    with one C-level pass; a chunk of many chargers falls back to one loop."""
    topics = list(map(itemgetter(2), rows))
    group = {topic: group_of(topic) for topic in set(topics)}
    keys = list(
        zip(
            map(group.__getitem__, topics),
            map(DAY_US.__rfloordiv__, map(itemgetter(1), rows)),
            strict=True,
        )
    )
    distinct = set(keys)
    members: dict[tuple[str, int], list[Message]] = {}
    if len(distinct) <= 32:
        for key in distinct:
            members[key] = list(compress(rows, map(key.__eq__, keys)))
    else:
        for key, row in zip(keys, rows, strict=True):
            members.setdefault(key, []).append(row)
    grouped: dict[tuple[str, str], list[list[Message]]] = {}
    for (name, day_number), run in members.items():
        grouped[(name, day_of(day_number * DAY_US))] = _split_far(run)
    return grouped


def _split_far(rows: list[Message]) -> list[list[Message]]:
    seqs = list(map(itemgetter(0), rows))
    cuts = [i for i, step in enumerate(map(sub, seqs[1:], seqs), start=1) if step > SPLIT_GAP]
    bounds = [0, *cuts, len(rows)]
    return [rows[a:b] for a, b in pairwise(bounds)]


def _ranges(rows: list[Message], kept: list[int]) -> list[tuple[int, int]]:
    """The sealed rows' seqs as inclusive ranges holding no row that stays live."""
    seqs = [row[0] for row in rows]
    breaks = sorted({bisect_left(seqs, seq) for seq in kept if seqs[0] < seq < seqs[-1]})
    bounds = [0, *breaks, len(seqs)]
    return [(seqs[a], seqs[b - 1]) for a, b in pairwise(bounds) if b > a]


def _flush(
    store: Store,
    rows: list[Message],
    kept: list[int],
    report: SealReport,
    dry_run: bool,
    replayed: Callable[[str], bool] | None,
) -> None:
    encoding = time.perf_counter()
    encoded = []
    for (group, day), runs in sorted(_group_days(rows).items()):
        for run in runs:
            block = segment_codec.encode(run, replayed)
            if not segment_codec.matches(run, block):
                raise SealCheckFailed(
                    f"the block of {group or '(no group)'} on {day} does not decode to its rows"
                )
            encoded.append((group, day, block, sum(1 for row in run if row[6])))
            report.days.add(day)
    report.segments += len(encoded)
    report.messages += len(rows)
    report.block_bytes += sum(len(e[2].block) for e in encoded)
    report.row_bytes += sum(map(len, map(itemgetter(3), rows))) + sum(
        map(len, map(itemgetter(2), rows))
    )
    report.encode_s += time.perf_counter() - encoding
    if dry_run:
        return
    writing = time.perf_counter()
    now = micros_text(int(time.time() * 1e6))
    store.rollback()  # the rows read stay as they are: the caller holds the projector lock
    store.read_committed()
    try:
        for group, day, block, imported in encoded:
            segments.write(store, group, day, block, imported, now)
        deleted = entries.delete_ranges(store, _ranges(rows, kept))
        if deleted != len(rows):
            raise SealCheckFailed(f"{deleted} rows deleted for {len(rows)} sealed: nothing sealed")
        store.commit()
    except BaseException:
        store.rollback()
        raise
    report.write_s += time.perf_counter() - writing
    log.info("sealed %d message(s) into %d segment(s)", len(rows), len(encoded))
