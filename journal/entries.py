"""Reading and appending journal rows; the only code that knows the journal's columns."""

from __future__ import annotations

import binascii
import calendar
import json
import re
import time
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter

from journal.segment_codec import Message, RawEntry
from journal.storage import Store, placeholders

# (received_at text, topic, payload, qos, retained)
Row = tuple[str, str, bytes | bytearray, int, int]
COLUMNS = ("received_at", "topic", "payload", "qos", "retained")
# Every writer gives seq itself, from Store.reserve_seq (the journal_head counter, schema step
# 0009), never from AUTO_INCREMENT: MariaDB hands AUTO_INCREMENT numbers out at insert, not at
# commit, so with two writers a reader could see seq 12 before 11 commits and the projector's
# `seq > checkpoint` would skip 11 for good. The counter stays locked until the writer commits:
# commit order is seq order, and any snapshot holds a prefix of the journal.
_INSERT = f"INSERT INTO journal (seq, {', '.join(COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?)"
# The same insert from one JSON array parameter (MariaDB 10.6+): [[received_at, topic,
# base64 payload, qos, retained], ...]; row j takes seq base + j (the ordinality, from 1), so seq
# follows the array's order, which is arrival order. CONVERT() on the topic is not decoration:
# MariaDB 10.11 stores a too-long JSON_TABLE column read straight into a shorter column as ''
# without an error, while an expression gets the strict-mode check ("too long" fails, as it does
# with VALUES).
_INSERT_JSON = (
    f"INSERT INTO journal (seq, {', '.join(COLUMNS)}) "
    "SELECT ? + j.n, j.received_at, CONVERT(j.topic USING utf8mb4), FROM_BASE64(j.payload), "
    "j.qos, j.retained FROM JSON_TABLE(?, '$[*]' COLUMNS (n FOR ORDINALITY, "
    "received_at VARCHAR(32) PATH '$[0]', topic LONGTEXT PATH '$[1]', "
    "payload LONGTEXT PATH '$[2]', qos INT PATH '$[3]', retained INT PATH '$[4]')) AS j "
    "ORDER BY j.n"
)
# Per-row overhead of a multi-row INSERT beyond the payload and topic bytes (escaping can double
# binary bytes, hence the factor 2 applied in batches_by_size).
_ROW_OVERHEAD = 64


@dataclass(frozen=True)
class JournalEntry:
    seq: int
    received_at: datetime
    topic: str
    payload: bytes
    qos: int
    retained: bool


# (second, "YYYY-MM-DD HH:MM:SS") of the last call: messages arrive thousands per second, so
# strftime runs once a second instead of once a message. A tuple swap is atomic across threads.
_second_cache: tuple[int, str] = (-1, "")


def utc_text(epoch_ns: int) -> str:
    """Receive time as the text both backends store: 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC."""
    global _second_cache
    seconds, nanos = divmod(epoch_ns, 1_000_000_000)
    cached, prefix = _second_cache
    if seconds != cached:
        prefix = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds))
        _second_cache = (seconds, prefix)
    return f"{prefix}.{nanos // 1000:06d}"


def parse_utc(value: str | datetime) -> datetime:
    """A stored received_at as an aware UTC datetime (MySQL returns datetimes, SQLite text)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC)
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def to_micros(value: str | datetime) -> int:
    """A stored received_at as integer microseconds since the epoch, exactly."""
    if isinstance(value, datetime):
        return calendar.timegm(value.timetuple()) * 1_000_000 + value.microsecond
    seconds = calendar.timegm(time.strptime(value[:19], "%Y-%m-%d %H:%M:%S"))
    fraction = value[20:26] if len(value) > 19 else ""
    return seconds * 1_000_000 + int(fraction.ljust(6, "0") or 0)


def stored_text(moment: datetime) -> str:
    """An aware datetime as the text both backends store and compare received_at and the
    projection's times with: 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def micros_text(micros: int) -> str:
    """The inverse of to_micros: the text both backends store and compare."""
    return utc_text(micros * 1000)


_KEY = re.compile(r"^[a-z_]+$")
# Topics a replay query leaves out by name at most: SQLite takes 32,766 bound parameters.
MAX_SKIPPED = 10_000


def topic_key_condition(keys: Sequence[str]) -> str:
    """`(topic LIKE '%/state' OR ...)`: the keys written into the SQL, not bound, so SQLite can
    match the condition to its partial index `journal_replayed` (schema step 0013, the same
    text for REPLAYED_KEYS). Only plain key names are accepted, never outside input."""
    for key in keys:
        if not _KEY.match(key):
            raise ValueError(f"{key!r} is not a topic key")
    return "(" + " OR ".join(f"topic LIKE '%/{key}'" for key in keys) + ")"


def read_raw_after(
    store: Store,
    after_seq: int,
    limit: int,
    *,
    up_to: int | None = None,
    keys: Sequence[str] = (),
    skip: Collection[str] = (),
) -> list[RawEntry]:
    """Like read_after without building datetimes (the replay's hot path). With `keys`, only
    topics ending in `/<key>` come back, and none of the topics in `skip`: the database skips
    the rest without Python seeing it."""
    micros = store.micros_sql("received_at")
    sql = f"SELECT seq, {micros}, topic, payload, retained FROM journal WHERE seq > ?"
    params: list[object] = [after_seq]
    if up_to is not None:
        sql += " AND seq <= ?"
        params.append(up_to)
    if keys:
        sql += f" AND {topic_key_condition(keys)}"
    if skip and len(skip) <= MAX_SKIPPED:  # (beyond, the projector drops them as it reads)
        sql += f" AND topic NOT IN ({', '.join('?' * len(skip))})"
        params.extend(sorted(skip))
    rows = store.query(sql + " ORDER BY seq LIMIT ?", (*params, limit))
    return [
        (r[0], r[1], r[2], r[3] if type(r[3]) is bytes else bytes(r[3]), r[4] == 1) for r in rows
    ]


def read_messages(
    store: Store, after_seq: int, limit: int, *, up_to: int | None = None
) -> list[Message]:
    """Live rows after a position with every field a segment keeps (import_key only as the
    fact that the row was imported), in seq order: what sealing and export read."""
    if store.supports_json_table():  # MariaDB 10.6+, which also has the JSON functions used
        packed = read_messages_packed(store, after_seq, limit, up_to, store.max_statement_bytes())
        if packed is not None:
            return packed
    sql = (
        f"SELECT seq, {store.micros_column('received_at')}, topic, payload, qos, retained, "
        "CASE WHEN import_key IS NULL THEN 0 ELSE 1 END FROM journal WHERE seq > ?"
    )
    params: list[object] = [after_seq]
    if up_to is not None:
        sql += " AND seq <= ?"
        params.append(up_to)
    rows = store.query(sql + " ORDER BY seq LIMIT ?", (*params, limit))
    if not rows:
        return []
    # Both drivers give ints for the numbers and 0/1 for the flags (equal to False/True).
    micros = store.micros_values([r[1] for r in rows])
    if type(rows[0][3]) is bytes:
        return [
            (r[0], at, r[2], r[3], r[4], r[5], r[6]) for r, at in zip(rows, micros, strict=True)
        ]
    return [
        (r[0], at, r[2], bytes(r[3]), r[4], r[5], r[6]) for r, at in zip(rows, micros, strict=True)
    ]


# A page of seqs as one JSON document, built by GROUP_CONCAT on MariaDB 10.6+: the pure-Python
# driver then reads one string instead of a protocol packet and seven conversions per row, and
# json.loads and bytes.fromhex do the rest in C, about three times faster than row by row. A
# range of seqs, not ORDER BY ... LIMIT in a derived table, which MariaDB would copy into a
# temporary table (blobs go to disk). The count beside the document tells a whole one from one
# cut at group_concat_max_len (then the page is read row by row).
_PACKED = (
    "SET STATEMENT group_concat_max_len = {limit} FOR "
    "SELECT COUNT(*), CONCAT('[', GROUP_CONCAT('[', seq, ',', {micros}, ',', JSON_QUOTE(topic), "
    "',\"', HEX(payload), '\",', qos, ',', retained, ',', import_key IS NOT NULL, ']'), ']') "
    "FROM journal WHERE seq > ? AND seq <= ?"
)


def read_messages_packed(
    store: Store, after_seq: int, limit: int, up_to: int | None, max_bytes: int
) -> list[Message] | None:
    """read_messages' next page in one document of at most `max_bytes`, or None when it did not
    fit one."""
    sql = _PACKED.format(limit=max_bytes, micros=store.micros_sql("received_at"))
    high = after_seq + limit if up_to is None else min(after_seq + limit, up_to)
    row = store.query_one(sql, (after_seq, high))
    if row is not None and not row[0]:  # a hole in seq (sealed or skipped): jump over it
        bound = "" if up_to is None else " AND seq <= ?"
        found = store.query_one(
            f"SELECT MIN(seq) FROM journal WHERE seq > ?{bound}",
            (after_seq,) if up_to is None else (after_seq, up_to),
        )
        if not found or found[0] is None:
            return []
        low = int(found[0]) - 1
        high = low + limit if up_to is None else min(low + limit, up_to)
        row = store.query_one(sql, (low, high))
    if row is None or not row[0] or row[1] is None:
        return None
    try:
        document = row[1] if isinstance(row[1], str) else bytes(row[1]).decode()
        items = json.loads(document)
    except ValueError:
        return None
    if len(items) != row[0]:
        return None
    items.sort(key=itemgetter(0))  # GROUP_CONCAT without ORDER BY: in key order in practice
    hexed = bytes.fromhex
    return [(s, at, t, hexed(p), q, r, i) for s, at, t, p, q, r, i in items]


def delete_ranges(store: Store, ranges: Sequence[tuple[int, int]]) -> int:
    """Delete the live rows in each inclusive seq range, in the caller's transaction (sealing:
    the same transaction writes their segments). Returns how many rows went."""
    deleted = 0
    for low, high in ranges:
        deleted += store.execute("DELETE FROM journal WHERE seq >= ? AND seq <= ?", (low, high))
    return deleted


def live_bytes(store: Store) -> int:
    """What the live rows' payloads and topics weigh (not their page overhead)."""
    row = store.query_one("SELECT SUM(LENGTH(payload) + LENGTH(topic)) FROM journal")
    return int(row[0]) if row and row[0] is not None else 0


def last_live_seq(store: Store) -> int:
    """The newest live row's position (0 when none): see journal.reader.last_seq for the
    journal's newest position, sealed or not."""
    row = store.query_one("SELECT MAX(seq) FROM journal")
    return int(row[0]) if row and row[0] is not None else 0


def last_live_at_or_before(store: Store, position: int) -> tuple[int, int] | None:
    """(seq, receive time in microseconds) of the last live row at or before a position: one
    primary-key lookup (journal.reader.received_at_or_before adds the sealed part)."""
    row = store.query_one(
        "SELECT seq, received_at FROM journal WHERE seq <= ? ORDER BY seq DESC LIMIT 1",
        (position,),
    )
    return (int(row[0]), to_micros(row[1])) if row else None


PROBES = 64  # journal positions looked up per query by last_seq_received_by


def last_seq_received_by(store: Store, moment_us: int, low: int, high: int) -> int:
    """The last seq in [low, high] received at or before a moment (`low` when none is). There is
    no index on received_at, but it grows with seq (arrival order): each query reads the time at
    PROBES positions (primary-key lookups) and keeps the one interval that holds the answer."""
    while high - low > PROBES:
        step = (high - low) / PROBES
        probes = sorted({round(low + step * i) for i in range(1, PROBES)})
        rows = store.query(
            f"SELECT seq, received_at FROM journal WHERE seq IN ({placeholders(probes)}) "
            "ORDER BY seq",
            probes,
        )
        before = [int(seq) for seq, at in rows if to_micros(at) <= moment_us]
        after = [int(seq) for seq, at in rows if to_micros(at) > moment_us]
        new_low = max([low, *before])
        new_high = min([high, *(seq - 1 for seq in after if seq > new_low)])
        if (new_low, new_high) == (low, high):
            break
        low, high = new_low, new_high
    row = store.query_one(
        "SELECT MAX(seq) FROM journal WHERE seq >= ? AND seq <= ? AND received_at <= ?",
        (low, high, micros_text(moment_us)),
    )
    return int(row[0]) if row and row[0] is not None else low


class _MicrosCache:
    """Consecutive entries share their day: parse the date once per day, the time by slicing."""

    def __init__(self) -> None:
        self._day = ""
        self._base = 0

    def __call__(self, value: str | datetime) -> int:
        if isinstance(value, datetime):
            return to_micros(value)
        day = value[:10]
        if day != self._day:
            self._day = day
            self._base = calendar.timegm(time.strptime(day, "%Y-%m-%d")) * 1_000_000
        seconds = int(value[11:13]) * 3600 + int(value[14:16]) * 60 + int(value[17:19])
        fraction = value[20:26]
        return self._base + seconds * 1_000_000 + (int(fraction.ljust(6, "0")) if fraction else 0)


def batches_by_size(rows: Sequence[Row], limit_bytes: int) -> Iterator[Sequence[Row]]:
    """Split rows so no single INSERT exceeds the server's packet limit."""
    start, size = 0, 0
    for index, row in enumerate(rows):
        row_size = 2 * (len(row[2]) + len(row[1])) + _ROW_OVERHEAD
        if index > start and size + row_size > limit_bytes:
            yield rows[start:index]
            start, size = index, 0
        size += row_size
    if start < len(rows):
        yield rows[start:]


def append(store: Store, rows: Sequence[Row]) -> None:
    """Insert rows in order, in the caller's open transaction (the caller commits). The rows'
    positions are reserved first (Store.reserve_seq): another writer waits until this
    transaction ends, so however many writers overlap, none commits a position below one a
    reader has already seen."""
    if not rows:
        return
    base = store.reserve_seq(len(rows))
    limit = store.max_statement_bytes() - 1024
    if store.supports_json_table():
        _append_json(store, base, rows, limit)
        return
    for chunk in batches_by_size(rows, limit):
        if len(chunk) == 1 and 2 * len(chunk[0][2]) + _ROW_OVERHEAD > limit:
            store.execute(_INSERT, (base + 1, *chunk[0]))  # one large payload: the server judges
        else:
            store.executemany(_INSERT, _numbered(base, chunk))
        base += len(chunk)


def _numbered(base: int, rows: Sequence[tuple[object, ...]]) -> list[tuple[object, ...]]:
    """Each row with its position in front: base + 1, base + 2, ... in the rows' order."""
    return [(base + index, *row) for index, row in enumerate(rows, start=1)]


def _append_json(store: Store, base: int, rows: Sequence[Row], limit: int) -> None:
    """The whole batch as ONE bound parameter, a JSON array the server unpacks into rows: the
    driver (pure Python here) then escapes one string instead of five values per row, about
    eight times less client CPU than a multi-row INSERT. Payloads travel base64-encoded, so
    any bytes survive; ensure_ascii makes the document's length its size in bytes. Row i of
    `rows` takes position base + 1 + i."""
    b2a = binascii.b2a_base64
    document = json.dumps(
        [(r[0], r[1], b2a(r[2], newline=False).decode("ascii"), r[3], r[4]) for r in rows],
        separators=(",", ":"),
    )
    # The driver's escaping at most doubles the document.
    if 2 * len(document) + len(_INSERT_JSON) <= limit:
        store.execute(_INSERT_JSON, (base, document))
    elif len(rows) == 1:
        store.execute(_INSERT, (base + 1, *rows[0]))  # one large payload: let the server judge
    else:
        half = len(rows) // 2
        _append_json(store, base, rows[:half], limit)
        _append_json(store, base + half, rows[half:], limit)


def append_imported(store: Store, rows: Sequence[tuple[str, str, bytes, int, int, bytes]]) -> int:
    """Insert imported rows, skipping any whose import_key is already journaled; returns how many
    were new. Positions are reserved for every row, as in `append`: a skipped one leaves a hole
    in seq, which readers never rely on (they read `seq > position`, not counts)."""
    if not rows:
        return 0
    base = store.reserve_seq(len(rows))
    sql = store.insert_ignore_sql("journal", ("seq", *COLUMNS, "import_key"))
    limit = store.max_statement_bytes() - 1024
    added = 0
    for chunk in batches_by_size(rows, limit):  # type: ignore[arg-type]
        added += max(store.executemany(sql, _numbered(base, chunk)), 0)
        base += len(chunk)
    return added


def first_live_seq(store: Store) -> int | None:
    row = store.query_one("SELECT MIN(seq) FROM journal")
    return int(row[0]) if row and row[0] is not None else None


def count(store: Store) -> int:
    row = store.query_one("SELECT COUNT(*) FROM journal")
    return int(row[0]) if row else 0


def read_after(store: Store, after_seq: int, limit: int) -> list[JournalEntry]:
    """The next `limit` entries after a position: keyset paging keeps memory flat."""
    rows = store.query(
        "SELECT seq, received_at, topic, payload, qos, retained FROM journal "
        "WHERE seq > ? ORDER BY seq LIMIT ?",
        (after_seq, limit),
    )
    return [
        JournalEntry(int(r[0]), parse_utc(r[1]), r[2], bytes(r[3]), int(r[4]), bool(r[5]))
        for r in rows
    ]


def iter_all(store: Store, after_seq: int = 0, page: int = 5000) -> Iterator[JournalEntry]:
    """Every entry after a position, in seq order."""
    while True:
        entries = read_after(store, after_seq, page)
        if not entries:
            return
        yield from entries
        after_seq = entries[-1].seq


# ---- the detail chart over sealed and live messages, and the journal's footprint -------------

# (topic, bucket index, sum, count, max) of numeric readings: what bucketed_sums returns.
BucketSums = tuple[str, int, float, int, float]


def bucketed_sums(
    store: Store,
    topics: Sequence[str],
    *,
    first: int,
    slices: int,
    step: int,
    size: int,
    start_us: int,
    end_us: int,
    width_us: int,
    ceiling: float,
) -> list[BucketSums]:
    """The sum, the count and the max of the numeric payloads (within 0..ceiling) of some topics
    received in [start, end], per topic and per time bucket of `width_us` from `start`, read
    from `slices` runs of `size` positions every `step` from position `first` (one run: a whole
    range). The database does the adding up: one primary-key range per slice (a row of the
    recursive CTE), and only the aggregated rows travel, whatever the range's length. Sums and
    counts, not means, so these buckets merge with those webapp/sealed.py adds up from sealed
    segments; the bucket index is exact, floor((received_at - start) / width) in integer
    microseconds, as Python computes it for the sealed messages."""
    value = store.real_sql("j.payload")
    micros, divided = store.micros_sql("j.received_at"), store.int_div_sql("r.d", "?")
    rows = store.query(
        "WITH RECURSIVE slice(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM slice WHERE k < ?) "
        f"SELECT r.topic, {divided} AS b, SUM(r.v), COUNT(*), MAX(r.v) FROM ("
        f"SELECT j.topic AS topic, {micros} - ? AS d, {value} AS v "
        "FROM slice JOIN journal j ON j.seq >= ? + slice.k * ? AND j.seq < ? + slice.k * ? + ? "
        f"WHERE j.topic IN ({placeholders(topics)}) AND j.received_at >= ? "
        "AND j.received_at <= ?) AS r WHERE r.v BETWEEN 0 AND ? GROUP BY r.topic, b",
        [
            slices - 1,
            width_us,
            start_us,
            first,
            step,
            first,
            step,
            size,
            *topics,
            micros_text(start_us),
            micros_text(end_us),
            ceiling,
        ],
    )
    return [
        (str(topic), int(index), float(total), int(n), float(peak))
        for topic, index, total, n, peak in rows
    ]


def first_live_between(store: Store, low: int, high: int) -> tuple[int, int] | None:
    """(seq, receive time in microseconds) of the first live row in [low, high], None when the
    range holds none (all sealed, or empty): one primary-key lookup."""
    row = store.query_one(
        "SELECT seq, received_at FROM journal WHERE seq >= ? AND seq <= ? ORDER BY seq LIMIT 1",
        (low, high),
    )
    return (int(row[0]), to_micros(row[1])) if row else None


def journal_disk_bytes(store: Store) -> int:
    """What the journal takes on disk, for the health page. MariaDB: data and index length of
    `journal` and `journal_segment` (InnoDB's statistics, refreshed in the background after
    large changes, so a figure can lag a seal by a while). SQLite: the whole database file
    (page_count * page_size), which a seal does not shrink: freed pages are reused, and only
    VACUUM gives them back to the disk."""
    return _journal_bytes(store, "data_length + index_length", "page_count")


def journal_free_bytes(store: Store) -> int:
    """The part of journal_disk_bytes that holds no data but stays allocated, reused by new
    rows (after a first seal, most of it): SQLite's free pages (VACUUM gives them back to the
    disk), InnoDB's data_free of the journal's two tables (OPTIMIZE TABLE does)."""
    return _journal_bytes(store, "data_free", "freelist_count")


def _journal_bytes(store: Store, innodb_sizes: str, sqlite_pages: str) -> int:
    """InnoDB's sizes of the journal's two tables, or SQLite's pages of one kind, in bytes (the
    arguments are the constant column and pragma names above, never input)."""
    if store.dialect == "mysql":
        row = store.query_one(
            f"SELECT SUM({innodb_sizes}) FROM information_schema.TABLES "
            "WHERE table_schema = DATABASE() AND table_name IN ('journal', 'journal_segment')"
        )
    else:
        row = store.query_one(
            f"SELECT p.{sqlite_pages} * s.page_size FROM pragma_{sqlite_pages}() AS p, "
            "pragma_page_size() AS s"
        )
    return int(row[0]) if row and row[0] is not None else 0
