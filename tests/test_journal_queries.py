"""The journal questions the health page and the detail chart ask (journal/entries.py), on both
backends: the answers agree with a plain reading of the rows."""

from __future__ import annotations

from journal import entries, reader
from journal.storage import Store

BASE_US = 1_767_225_600_000_000  # 2026-01-01 00:00:00 UTC


def _journal(store: Store, values: list[tuple[int, str, bytes]]) -> list[int]:
    """Append (offset in us from BASE_US, topic, payload) rows; returns their seqs."""
    rows = [
        (entries.micros_text(BASE_US + us), topic, payload, 0, 0) for us, topic, payload in values
    ]
    before = reader.last_seq(store)
    entries.append(store, rows)
    store.commit()
    return list(range(before + 1, before + 1 + len(rows)))


def test_received_at_or_before(store: Store) -> None:
    assert reader.received_at_or_before(store, 10) is None
    seqs = _journal(store, [(i * 1_000_123, "a/power", b"1") for i in range(5)])
    assert reader.received_at_or_before(store, seqs[2]) == BASE_US + 2 * 1_000_123
    assert reader.received_at_or_before(store, seqs[-1] + 100) == BASE_US + 4 * 1_000_123
    assert reader.received_at_or_before(store, seqs[0] - 1) is None


def test_last_seq_received_by_matches_a_scan(store: Store) -> None:
    times = [i * 10_000 + (i % 7) for i in range(1000)]  # growing, irregular steps
    seqs = _journal(store, [(t, "a/state", b"3") for t in times])
    low, high = seqs[0], seqs[-1]
    for moment in (-5, 0, 1, 123_456, 5_000_003, 9_990_006, 9_990_005, 20_000_000):
        expected = max([low, *(s for s, t in zip(seqs, times, strict=True) if t <= moment)])
        assert entries.last_seq_received_by(store, BASE_US + moment, low, high) == expected


def test_bucketed_sums_add_up_per_bucket_and_skip_junk(store: Store) -> None:
    second = 1_000_000
    rows = [(i * second // 2 + second // 4, "a/power", str(100 * i).encode()) for i in range(20)]
    rows += [(3 * second, "a/power", b"5e12"), (3 * second, "b/power", b"7")]  # junk, other topic
    seqs = _journal(store, rows)
    got = entries.bucketed_sums(
        store,
        ["a/power"],
        first=seqs[0],
        slices=1,
        step=len(seqs),
        size=len(seqs),
        start_us=BASE_US,
        end_us=BASE_US + 20 * second,
        width_us=2 * second,
        ceiling=1e9,
    )
    store.rollback()
    # Bucket k holds readings 4k .. 4k + 3 (two a second, buckets of two seconds).
    expected = [
        ("a/power", k, sum(100.0 * i for i in range(4 * k, 4 * k + 4)), 4, 100.0 * (4 * k + 3))
        for k in range(5)
    ]
    assert sorted(got) == expected


def _one_second(
    store: Store, first: int, slices: int, step: int, size: int
) -> list[entries.BucketSums]:
    """bucketed_sums of a/power over the first second, in one bucket."""
    got = entries.bucketed_sums(
        store,
        ["a/power"],
        first=first,
        slices=slices,
        step=step,
        size=size,
        start_us=BASE_US,
        end_us=BASE_US + 10**6,
        width_us=10**7,
        ceiling=1e9,
    )
    store.rollback()
    return got


def test_bucketed_sums_read_only_the_slices(store: Store) -> None:
    seqs = _journal(store, [(i * 1000, "a/power", b"1") for i in range(100)])
    store.execute("UPDATE journal SET payload = ? WHERE seq = ?", (b"50", seqs[20]))
    store.commit()
    # Three slices of 5 positions every 40 (seqs 0-4, 40-44, 80-84 of the 100) miss the 50.
    assert _one_second(store, seqs[0], 3, 40, 5) == [("a/power", 0, 15.0, 15, 1.0)]
    # Slices of 25 reach it: 25 + 25 + 20 (the journal ends at 99) readings, one of them 50.
    assert _one_second(store, seqs[0], 3, 40, 25) == [("a/power", 0, 69.0 + 50, 70, 50.0)]


def test_times_late_in_a_second_keep_their_second(store: Store) -> None:
    """SQLite's strftime rounds a time with a fraction to the millisecond: .9995 and later must
    not count as the next second (micros_sql hands it the seconds only)."""
    seqs = _journal(store, [(999_500, "a/state", b"3"), (999_999, "a/state", b"2")])
    got = entries.read_raw_after(store, seqs[0] - 1, 10)
    store.rollback()
    assert [entry[1] - BASE_US for entry in got] == [999_500, 999_999]


def test_read_messages_pages_over_holes_and_keeps_every_field(store: Store) -> None:
    """Sealing and export read pages of messages; on MariaDB each page comes as one document
    of a range of seqs, so holes in seq (deleted or sealed rows) must be stepped over and a
    page never holds more than asked."""
    payloads = [b"", b'\x00\xff\n"\\', "é€😀".encode(), bytes(range(256)) * 40, b"3"]
    seqs = _journal(store, [(i * 7, f't/{i % 3}\t"é', payloads[i % 5]) for i in range(60)])
    entries.delete_ranges(store, [(seqs[5], seqs[29]), (seqs[31], seqs[44])])
    store.commit()
    live = [s for s in seqs if not (seqs[5] <= s <= seqs[29] or seqs[31] <= s <= seqs[44])]
    got, after = [], 0
    while page := entries.read_messages(store, after, 4, up_to=seqs[-2]):
        assert len(page) <= 4
        got.extend(page)
        after = page[-1][0]
    assert [m[0] for m in got] == live[:-1]
    for message in got:
        i = seqs.index(message[0])
        assert message[1:] == (BASE_US + i * 7, f't/{i % 3}\t"é', payloads[i % 5], 0, 0, 0)
    store.rollback()


def test_a_page_too_large_for_one_document_is_read_row_by_row(store: Store) -> None:
    seqs = _journal(store, [(i, "t/big", bytes(range(256)) * 10) for i in range(8)])
    rows = entries.read_messages(store, 0, 100)
    assert [(m[0], m[3]) for m in rows] == [(s, bytes(range(256)) * 10) for s in seqs]
    if store.supports_json_table():  # MariaDB: one document when it fits, else None (rows)
        assert entries.read_messages_packed(store, 0, 100, None, 1 << 20) == rows
        assert entries.read_messages_packed(store, 0, 100, None, 10_000) is None
    store.rollback()
