"""The journal's bulk insert on MariaDB 10.6+: a whole batch as one JSON parameter unpacked by
JSON_TABLE. It must store exactly what the plain multi-row INSERT stores, in the same order, and
fail where that one fails; both paths are compared on the same rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from journal import entries
from journal.entries import Row
from journal.migrate import migrate
from journal.storage import StorageError, open_store
from journal.storage.mysql import MysqlStore, _mariadb_version
from tests.services import mysql_database

pytestmark = pytest.mark.mysql

TRICKY: list[Row] = [
    ("2026-01-02 03:04:05.123456", "openevse-ab12/amp", b"31950", 1, 0),
    ("2026-01-02 03:04:05.000001", "tést/ünïcode/😀/中", bytes(range(256)), 0, 1),
    ("2026-01-02 03:04:05.999999", "q\"u'o\\te\n\t\x01/%s/?/%%", b"", 2, 0),
    ("2026-01-02 03:04:06.000000", "a" * 65535, b"\x00" * 10, 1, 1),
    ("1970-01-01 00:00:00.000000", "x", b"%s %% ' \" \\ \x00 \x1a \r\n", 1, 0),
    ("2026-01-02 03:04:07.500000", "big/payload", bytes(range(256)) * 4000, 1, 0),
]


@pytest.fixture
def mysql_store() -> Iterator[MysqlStore]:
    with mysql_database() as url, open_store(url) as store:
        assert isinstance(store, MysqlStore)
        migrate(store)
        if not store.supports_json_table():
            pytest.skip("server has no JSON_TABLE (MariaDB < 10.6 or MySQL)")
        yield store


def _stored(store: MysqlStore) -> list[Row]:
    return [
        (
            e.received_at.strftime("%Y-%m-%d %H:%M:%S.%f"),
            e.topic,
            e.payload,
            e.qos,
            int(e.retained),
        )
        for e in entries.iter_all(store)
    ]


def test_bulk_path_stores_what_the_plain_insert_stores(mysql_store: MysqlStore) -> None:
    entries.append(mysql_store, TRICKY)
    mysql_store.commit()
    bulk = _stored(mysql_store)
    assert bulk == TRICKY
    mysql_store.execute("DELETE FROM journal")
    mysql_store._json_table = False  # the multi-row INSERT, for comparison
    entries.append(mysql_store, TRICKY)
    mysql_store.commit()
    assert _stored(mysql_store) == bulk


def test_order_is_arrival_order(mysql_store: MysqlStore) -> None:
    rows = [
        (f"2026-01-01 00:00:00.{i:06d}", f"t/{i % 7}", str(i).encode(), 1, 0) for i in range(5000)
    ]
    entries.append(mysql_store, rows)
    mysql_store.commit()
    got = list(entries.iter_all(mysql_store))
    assert [int(e.payload) for e in got] == list(range(5000))
    assert [e.seq for e in got] == sorted(e.seq for e in got)
    assert got[1].received_at == datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=UTC)


def test_a_batch_beyond_the_packet_limit_is_split(
    mysql_store: MysqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mysql_store, "max_statement_bytes", lambda: 40_000)
    rows = [
        (f"2026-01-01 00:00:00.{i:06d}", "a/b", bytes([i % 256]) * 3000, 1, 0) for i in range(40)
    ]
    rows.insert(17, ("2026-01-01 00:00:01.000000", "one/large", b"L" * 30_000, 1, 0))
    calls: list[int] = []
    execute = mysql_store.execute

    def counting(sql: str, params: object = ()) -> int:
        calls.append(1)
        return execute(sql, params)  # type: ignore[arg-type]

    monkeypatch.setattr(mysql_store, "execute", counting)
    entries.append(mysql_store, rows)
    mysql_store.commit()
    assert _stored(mysql_store) == rows
    assert len(calls) > 1


@pytest.mark.parametrize(
    "row",
    [
        ("2026-13-02 03:04:05", "t", b"", 1, 0),  # no such date
        ("2026-01-02 03:04:05", "t" * 65536, b"", 1, 0),  # longer than TEXT (65535 bytes)
        ("2026-01-02 03:04:05", "t", b"", 300, 0),  # out of range for qos
    ],
)
def test_bad_rows_fail_instead_of_being_altered(mysql_store: MysqlStore, row: Row) -> None:
    with pytest.raises(StorageError):
        entries.append(mysql_store, [("2026-01-02 03:04:05.000000", "ok", b"1", 1, 0), row])
    mysql_store.rollback()
    assert entries.count(mysql_store) == 0


def test_mariadb_version_parsing() -> None:
    assert _mariadb_version("5.5.5-10.11.19-MariaDB-0+deb12u1") == (10, 11, 19)
    assert _mariadb_version("11.4.2-MariaDB-log") == (11, 4, 2)
    assert _mariadb_version("8.0.36") == ()
    assert _mariadb_version("10.5.2-MariaDB") < (10, 6)
