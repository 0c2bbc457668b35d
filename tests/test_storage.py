"""The storage layer and the journal table, run identically on SQLite and MariaDB."""

from __future__ import annotations

import pytest

from journal import entries
from journal.migrate import SchemaError, code_version, current_version, ensure_schema, migrate
from journal.storage import StorageError, Store, open_store
from tests.services import make_schema_newer

PAYLOADS = [b"", b"3", bytes(range(256)), b"\xff\xfe not utf-8", b"x" * 200_000, "é €".encode()]


def test_payloads_round_trip_byte_exact(store: Store) -> None:
    rows = [
        (f"2026-01-01 00:00:00.{i:06d}", "openevse/x", p, 1, i % 2) for i, p in enumerate(PAYLOADS)
    ]
    entries.append(store, rows)
    store.commit()
    got = list(entries.iter_all(store))
    assert [e.payload for e in got] == PAYLOADS
    assert [e.retained for e in got] == [bool(i % 2) for i in range(len(PAYLOADS))]
    assert [e.seq for e in got] == sorted(e.seq for e in got)
    assert got[1].received_at.microsecond == 1 and got[1].received_at.tzinfo is not None


def test_long_and_unicode_topics(store: Store) -> None:
    topic = "openevse-ÄÖ/" + "t" * 5000
    entries.append(store, [("2026-01-01 00:00:00.000000", topic, b"1", 0, 0)])
    store.commit()
    assert [e.topic for e in entries.iter_all(store)] == [topic]


def test_rollback_leaves_nothing(store: Store) -> None:
    entries.append(store, [("2026-01-01 00:00:00.000000", "a/b", b"1", 1, 0)])
    store.rollback()
    assert entries.count(store) == 0


def test_transaction_rolls_back_on_error(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        entries.append(store, [("2026-01-01 00:00:00.000000", "a/b", b"1", 1, 0)])
        raise RuntimeError("boom")
    assert entries.count(store) == 0


def test_keyset_paging_reads_everything_in_order(store: Store) -> None:
    rows = [
        (f"2026-01-01 00:00:{i // 100:02d}.{i:06d}", "a/b", str(i).encode(), 1, 0)
        for i in range(1234)
    ]
    entries.append(store, rows)
    store.commit()
    got = [int(e.payload) for e in entries.iter_all(store, page=100)]
    assert got == list(range(1234))


def test_batches_respect_the_packet_limit() -> None:
    rows = [("t", "a/b", b"x" * 1000, 0, 0)] * 10
    chunks = list(entries.batches_by_size(rows, 5000))
    assert sum(len(c) for c in chunks) == 10 and all(len(c) <= 2 for c in chunks)


def test_sql_errors_are_storage_errors(store: Store) -> None:
    with pytest.raises(StorageError):
        store.query("SELECT nope FROM journal")


def test_migrate_twice_is_a_no_op(db_url: str) -> None:
    with open_store(db_url) as store:
        assert current_version(store) == 0
        first = migrate(store)
        assert [s.version for s in first] == list(range(1, code_version(store.dialect) + 1))
        assert migrate(store) == []
        assert current_version(store) == code_version(store.dialect)
        assert store.table_exists("journal")


def test_ensure_schema_refuses_when_auto_migrate_is_off(db_url: str) -> None:
    with open_store(db_url) as store:
        with pytest.raises(SchemaError, match="chargelog migrate"):
            ensure_schema(store, auto_migrate=False)
        ensure_schema(store, auto_migrate=True)
        assert current_version(store) == code_version(store.dialect)


def test_schema_newer_than_code_is_refused(store: Store) -> None:
    make_schema_newer(store)
    with pytest.raises(SchemaError, match="upgrade chargelog"):
        ensure_schema(store, auto_migrate=True)


def test_the_replay_reads_through_the_partial_index(tmp_path) -> None:
    """SQLite uses journal_replayed (step 0013) only while the replay's condition is the index's,
    term for term, skipped topics or not: a change of REPLAYED_KEYS without a new index step
    fails here."""
    from projector.readings import REPLAYED_KEYS

    with open_store(f"sqlite:///{tmp_path / 'plan.db'}") as store:
        migrate(store)
        condition = entries.topic_key_condition(REPLAYED_KEYS)
        for skip in ("", " AND topic NOT IN (?, ?)"):
            plan = store.query(
                f"EXPLAIN QUERY PLAN SELECT seq FROM journal WHERE seq > ? AND seq <= ? "
                f"AND {condition}{skip} ORDER BY seq LIMIT ?",
                (0, 10, *(("a/amp", "a/volt") if skip else ()), 5),
            )
            assert any("USING INDEX journal_replayed" in str(row[-1]) for row in plan), plan


def test_the_partial_index_changes_no_result(store: Store) -> None:
    """What the replay reads is the same, index or not (and on MariaDB, which has none). The SQL
    filter may pass a superset (SQLite's LIKE ignores case); the projector's router then takes
    exact keys only, so both backends feed the machines the same entries."""
    topics = ["a/state", "a/amp", "a/STATE", "b/wh", "b/whx", "x/session_energy", "state"]
    topics.append("c/uptime")
    start = 1_767_261_600_000_000_000
    rows = [(entries.utc_text(start + i), t, b"1", 0, 0) for i, t in enumerate(topics)]
    entries.append(store, rows)
    store.commit()
    keys = ("state", "wh", "session_energy", "uptime")
    read = [r[2] for r in entries.read_raw_after(store, 0, 100, keys=keys)]
    assert [t for t in read if t.rpartition("/")[2] in keys] == [
        "a/state",
        "b/wh",
        "x/session_energy",
        "c/uptime",
    ]
    assert not {"a/amp", "b/whx", "state"} & set(read)
    with pytest.raises(ValueError, match="not a topic key"):
        entries.topic_key_condition(["state' OR 1=1 --"])


def test_exact_sum_never_goes_through_a_float(store: Store) -> None:
    """Money totals are summed by the database: exactly, as DECIMAL or as SQLite text."""
    from decimal import Decimal

    kind = "DECIMAL(24,12)" if store.dialect == "mysql" else "TEXT"
    store.execute(f"CREATE TABLE money_sum_test (amount {kind})")
    amounts = ["0.1", "0.2", "1234567.000000000001", "-0.3", "0.000000000001"] * 200
    store.executemany("INSERT INTO money_sum_test (amount) VALUES (?)", [(a,) for a in amounts])
    total = store.query_one(f"SELECT {store.exact_sum_sql('amount')} FROM money_sum_test")
    empty = store.query_one(
        f"SELECT {store.exact_sum_sql('amount')} FROM money_sum_test WHERE amount IS NULL"
    )
    plain = store.query_one("SELECT SUM(amount) FROM money_sum_test")
    store.rollback()
    store.execute("DROP TABLE money_sum_test")
    store.commit()
    exact = Decimal("246913400.000000000400")
    assert total is not None and Decimal(str(total[0])) == exact
    assert empty == (None,)
    if store.dialect == "sqlite":  # why SQLite needs its own aggregate: SUM() is a float
        assert plain is not None and Decimal(str(plain[0])) != exact


def test_the_replay_leaves_out_the_topics_it_is_told_to(store: Store) -> None:
    """By exact topic, with the partial index or without; a list too long for one statement is
    not sent (the projector drops those topics as it reads)."""
    topics = ["a/state", "a/amp", "a/voltage", "b/amp", "b/state"]
    start = 1_767_261_600_000_000_000
    rows = [(entries.utc_text(start + i), t, b"1", 0, 0) for i, t in enumerate(topics)]
    entries.append(store, rows)
    store.commit()
    keys = ("state", "amp", "voltage")
    read = [r[2] for r in entries.read_raw_after(store, 0, 100, keys=keys, skip={"a/amp"})]
    assert read == ["a/state", "a/voltage", "b/amp", "b/state"]
    many = {f"x{i}/amp" for i in range(entries.MAX_SKIPPED)} | {"a/amp"}
    read = [r[2] for r in entries.read_raw_after(store, 0, 100, keys=keys, skip=many)]
    assert read == topics
