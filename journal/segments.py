"""Reading and writing `journal_segment` rows: the only code that knows that table's columns.

A segment is immutable once written; `load` decodes it and refuses one whose block or checksum
is damaged (SegmentDamaged names it and its day), so a damaged segment is never read as data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from journal import segment_codec
from journal.entries import micros_text, to_micros
from journal.segment_codec import BlockError, Encoded, Message, RawEntry
from journal.storage import Store, placeholders

_INDEX_COLUMNS = (
    "id, topic_group, day, first_seq, last_seq, first_at, last_at, message_count, "
    "imported_count, codec"
)


class SegmentDamaged(Exception):
    """A sealed segment that cannot be read back exactly. The message is the one line every
    command prints before it stops."""

    def __init__(self, info: SegmentInfo, reason: str) -> None:
        super().__init__(
            f"journal segment {info.id} ({info.group or '(no group)'}, {info.day}) is damaged: "
            f"{reason}; nothing was read from it (see `chargelog verify`)"
        )
        self.info = info
        self.reason = reason


@dataclass(frozen=True)
class SegmentInfo:
    id: int
    group: str
    day: str  # UTC, YYYY-MM-DD
    first_seq: int
    last_seq: int
    first_at: int  # microseconds
    last_at: int
    count: int
    imported: int
    codec: int


def _info(row: Sequence[object]) -> SegmentInfo:
    day = row[2]
    return SegmentInfo(
        id=int(row[0]),  # type: ignore[call-overload]
        group=str(row[1]),
        day=day.isoformat() if isinstance(day, date | datetime) else str(day)[:10],
        first_seq=int(row[3]),  # type: ignore[call-overload]
        last_seq=int(row[4]),  # type: ignore[call-overload]
        first_at=to_micros(row[5]),  # type: ignore[arg-type]
        last_at=to_micros(row[6]),  # type: ignore[arg-type]
        count=int(row[7]),  # type: ignore[call-overload]
        imported=int(row[8]),  # type: ignore[call-overload]
        codec=int(row[9]),  # type: ignore[call-overload]
    )


def write(store: Store, group: str, day: str, encoded: Encoded, imported: int, now: str) -> None:
    """One segment, in the caller's transaction (the caller deletes its rows and commits)."""
    store.execute(
        "INSERT INTO journal_segment (topic_group, day, first_seq, last_seq, first_at, last_at, "
        "message_count, imported_count, codec, checksum, block, sealed_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            group,
            day,
            encoded.first_seq,
            encoded.last_seq,
            micros_text(encoded.first_at),
            micros_text(encoded.last_at),
            encoded.count,
            imported,
            segment_codec.CODEC_LZMA_COLUMNS,
            encoded.checksum,
            encoded.block,
            now,
        ),
    )


def overlapping(store: Store, after: int, up_to: int | None = None) -> list[SegmentInfo]:
    """The segments holding any position in (after, up_to], by first position."""
    sql = f"SELECT {_INDEX_COLUMNS} FROM journal_segment WHERE last_seq > ?"
    params: list[object] = [after]
    if up_to is not None:
        sql += " AND first_seq <= ?"
        params.append(up_to)
    return [_info(row) for row in store.query(sql + " ORDER BY first_seq, id", params)]


def received_between(
    store: Store, start_us: int, end_us: int, groups: Iterable[str] | None = None
) -> list[SegmentInfo]:
    """The segments with a message received in [start, end], of some topic groups (or all)."""
    sql = f"SELECT {_INDEX_COLUMNS} FROM journal_segment WHERE last_at >= ? AND first_at <= ?"
    params: list[object] = [micros_text(start_us), micros_text(end_us)]
    if groups is not None:
        wanted = sorted(set(groups))
        if not wanted:
            return []
        sql += f" AND topic_group IN ({placeholders(wanted)})"
        params += wanted
    return [_info(row) for row in store.query(sql + " ORDER BY first_seq, id", params)]


def every(store: Store) -> list[SegmentInfo]:
    return [
        _info(row)
        for row in store.query(f"SELECT {_INDEX_COLUMNS} FROM journal_segment ORDER BY first_seq")
    ]


def _block(store: Store, info: SegmentInfo) -> tuple[bytes, bytes]:
    row = store.query_one("SELECT block, checksum FROM journal_segment WHERE id = ?", (info.id,))
    if row is None:
        raise SegmentDamaged(info, "its row is gone")
    if info.codec not in segment_codec.CODECS:
        raise SegmentDamaged(info, f"codec {info.codec} is unknown to this version")
    return bytes(row[0]), bytes(row[1])


def load(store: Store, info: SegmentInfo) -> list[Message]:
    """Every message of a segment, exactly as sealed."""
    block, checksum = _block(store, info)
    try:
        messages = segment_codec.decode(block, checksum)
    except BlockError as exc:
        raise SegmentDamaged(info, str(exc)) from None
    _check_shape(info, len(messages), messages[0][0], messages[-1][0])
    return messages


def load_raw(store: Store, info: SegmentInfo, wanted: Callable[[str], bool]) -> list[RawEntry]:
    """The projector's view of a segment's messages whose topic `wanted` accepts."""
    block, checksum = _block(store, info)
    try:
        return segment_codec.decode_raw(block, checksum, wanted)
    except BlockError as exc:
        raise SegmentDamaged(info, str(exc)) from None


def verify(store: Store, info: SegmentInfo) -> int:
    """Decode and re-encode every message (segment_codec.verify); the message count."""
    block, checksum = _block(store, info)
    try:
        count = segment_codec.verify(block, checksum)
    except BlockError as exc:
        raise SegmentDamaged(info, str(exc)) from None
    if count != info.count:
        raise SegmentDamaged(info, f"it holds {count} messages, its row says {info.count}")
    return count


def _check_shape(info: SegmentInfo, count: int, first: int, last: int) -> None:
    if (count, first, last) != (info.count, info.first_seq, info.last_seq):
        raise SegmentDamaged(info, "its messages do not match its row's count and positions")


@dataclass(frozen=True)
class Totals:
    segments: int
    messages: int
    block_bytes: int
    last_sealed_at: int | None  # microseconds


def totals(store: Store) -> Totals:
    row = store.query_one(
        "SELECT COUNT(*), SUM(message_count), SUM(LENGTH(block)), MAX(sealed_at) "
        "FROM journal_segment"
    )
    assert row is not None
    return Totals(
        segments=int(row[0] or 0),
        messages=int(row[1] or 0),
        block_bytes=int(row[2] or 0),
        last_sealed_at=to_micros(row[3]) if row[3] is not None else None,
    )


def last_seq(store: Store) -> int:
    row = store.query_one("SELECT MAX(last_seq) FROM journal_segment")
    return int(row[0]) if row and row[0] is not None else 0
