"""SQLite backend (stdlib): the embedded default, so a new user needs no server."""

from __future__ import annotations

import fcntl
import os
import re
import sqlite3
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Context, Decimal
from operator import add, itemgetter
from pathlib import Path
from typing import Any

from journal.storage.base import Params, StorageError, StorageUnavailable, Store


def _wrap(exc: sqlite3.Error) -> StorageError:
    # "database is locked" and I/O trouble are worth a retry; the rest are bugs or constraints.
    if isinstance(exc, sqlite3.OperationalError) and (
        "locked" in str(exc) or "busy" in str(exc) or "disk I/O" in str(exc)
    ):
        return StorageUnavailable(f"sqlite: {exc}")
    return StorageError(f"sqlite: {exc}")


_RESERVE = (
    "UPDATE journal_head SET last_seq = MAX(last_seq, "
    "COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'journal'), 0)) + ? "
    "WHERE id = 1 RETURNING last_seq"
)

_WIDE = Context(prec=100)  # wider than any sum of stored amounts: never rounds


class _ExactSum:
    """SUM for amounts SQLite stores as text ('0.1850'): SQLite's own SUM goes through a
    float. Returns the exact total as text, or NULL over no row, like SUM."""

    def __init__(self) -> None:
        self.total: Decimal | None = None

    def step(self, value: Any) -> None:
        if value is not None:
            amount = Decimal(str(value))
            self.total = amount if self.total is None else _WIDE.add(self.total, amount)

    def finalize(self) -> str | None:
        return None if self.total is None else str(self.total)


_EPOCH = datetime(1970, 1, 1)
_US = timedelta(microseconds=1)


def text_micros(values: list[str]) -> list[int]:
    """Stored times ('YYYY-MM-DD HH:MM:SS.ffffff') as integer microseconds, a page at a time:
    consecutive messages share their second, so each distinct second is parsed once and the
    rest is slicing in C."""
    if not all(len(value) == 26 for value in values):
        return [(datetime.fromisoformat(value) - _EPOCH) // _US for value in values]
    prefixes = list(map(itemgetter(slice(0, 19)), values))
    seconds = {p: (datetime.fromisoformat(p) - _EPOCH) // _US for p in set(prefixes)}
    return list(
        map(
            add,
            map(seconds.__getitem__, prefixes),
            map(int, map(itemgetter(slice(20, 26)), values)),
        )
    )


class SqliteStore(Store):
    dialect = "sqlite"
    last_id_sql = "SELECT last_insert_rowid()"
    insert_ignore_verb = "INSERT OR IGNORE"

    def __init__(self, target: Any, *, read_only: bool = False) -> None:
        super().__init__(target)
        self.read_only = read_only
        self._conn: sqlite3.Connection | None = None
        self._locks: dict[str, int] = {}

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self.connect()
        assert self._conn is not None
        return self._conn

    def connect(self) -> None:
        self.close()
        path = Path(self.target.path)
        try:
            if self.read_only:
                self._conn = sqlite3.connect(
                    f"file:{path}?mode=ro", uri=True, timeout=30, check_same_thread=False
                )
            else:
                if path.parent and not path.parent.exists():
                    path.parent.mkdir(parents=True, exist_ok=True)
                self._conn = sqlite3.connect(path, timeout=30, check_same_thread=False)
                # WAL lets the web page read while the recorder writes; FULL makes a commit
                # durable before the recorder acknowledges the message to the broker.
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA busy_timeout=30000")
            # typeshed's aggregate protocol wants int in and out; SQLite takes any SQL value
            self._conn.create_aggregate("exact_sum", 1, _ExactSum)  # type: ignore[arg-type]
        except sqlite3.Error as exc:
            self._conn = None
            raise _wrap(exc) from exc

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def execute(self, sql: str, params: Params = ()) -> int:
        try:
            return self.conn.execute(sql, params).rowcount
        except sqlite3.Error as exc:
            raise _wrap(exc) from exc

    def executemany(self, sql: str, rows: Sequence[Params]) -> int:
        try:
            return self.conn.executemany(sql, rows).rowcount
        except sqlite3.Error as exc:
            raise _wrap(exc) from exc

    def query(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        try:
            return self.conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise _wrap(exc) from exc

    def commit(self) -> None:
        try:
            self.conn.commit()
        except sqlite3.Error as exc:
            raise _wrap(exc) from exc

    def rollback(self) -> None:
        if self._conn is not None:
            try:
                self._conn.rollback()
            except sqlite3.Error as exc:
                raise _wrap(exc) from exc

    def table_exists(self, name: str) -> bool:
        row = self.query_one("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,))
        return row is not None

    def on_conflict_sql(self, keys: Sequence[str], columns: Sequence[str]) -> str:
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns)
        return f"ON CONFLICT({', '.join(keys)}) DO UPDATE SET {updates}"

    def _ddl(self, name: str) -> tuple[str, list[tuple[str, str]]]:
        rows = self.query(
            "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL",
            (name,),
        )
        table = next(sql for kind, _, sql in rows if kind == "table")
        indexes = [(index, sql) for kind, index, sql in rows if kind == "index"]
        return table, indexes

    def create_table_like(self, new: str, existing: str) -> None:
        table, indexes = self._ddl(existing)
        word = re.compile(rf'(?<![\w"]){re.escape(existing)}(?![\w"])|"{re.escape(existing)}"')
        if not self.conn.in_transaction:
            self.execute("BEGIN")  # several tables' DDL, one commit (one fsync) by the caller
        self.execute(f"DROP TABLE IF EXISTS {new}")
        self.execute(word.sub(new, table, count=1))
        for index, sql in indexes:
            renamed = sql.replace(index, f"{new}__{index}", 1)
            self.execute(word.sub(new, renamed))

    def swap_tables(self, tables: Sequence[str], suffix: str) -> None:
        indexes = {table: self._ddl(table)[1] for table in tables}
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            for table in tables:
                self.conn.execute(f"ALTER TABLE {table} RENAME TO {table}_old")
                self.conn.execute(f"ALTER TABLE {table}{suffix} RENAME TO {table}")
                self.conn.execute(f"DROP TABLE {table}_old")
                for index, sql in indexes[table]:
                    self.conn.execute(f"DROP INDEX IF EXISTS {table}{suffix}__{index}")
                    self.conn.execute(sql)
            self.conn.commit()
        except sqlite3.Error as exc:
            self.conn.rollback()
            raise _wrap(exc) from exc

    def try_lock(self, name: str, wait: float) -> bool:
        path = f"{self.target.path}.{name}.lock"
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._locks[name] = handle
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(handle)
                    return False
                time.sleep(0.05)

    def unlock(self, name: str) -> None:
        handle = self._locks.pop(name, None)
        if handle is not None:
            fcntl.flock(handle, fcntl.LOCK_UN)
            os.close(handle)

    def begin_snapshot(self) -> None:
        # A deferred BEGIN takes its WAL snapshot at the first read and keeps it to the end.
        if not self.conn.in_transaction:
            self.execute("BEGIN")

    def exact_sum_sql(self, expression: str) -> str:
        return f"exact_sum({expression})"

    def real_sql(self, expression: str) -> str:
        return f"CAST({expression} AS REAL)"

    def micros_column(self, column: str) -> str:
        return column  # strftime() per row costs more than the bulk conversion below

    def micros_values(self, values: list[Any]) -> list[int]:
        return text_micros(values)

    def micros_sql(self, column: str) -> str:
        # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff': whole seconds by strftime, then the fraction.
        # strftime gets the seconds only: given the fraction it rounds to the millisecond
        # first, and .9995 and later would count one second late.
        return (
            f"(CAST(strftime('%s', substr({column}, 1, 19)) AS INTEGER) * 1000000"
            f" + CAST(substr({column}, 21, 6) AS INTEGER))"
        )

    def reserve_seq(self, count: int) -> int:
        # The UPDATE takes SQLite's write lock (a second writer waits up to busy_timeout). Also
        # above AUTOINCREMENT's record, so a row an older chargelog inserted without the counter
        # is never handed out again.
        row = self.query_one(_RESERVE, (count,))
        if row is None:
            raise StorageError("sqlite: journal_head has no row: run `chargelog migrate`")
        return int(row[0]) - count

    def script(self, sql: str) -> None:
        try:
            self.conn.executescript(sql)
        except sqlite3.Error as exc:
            raise _wrap(exc) from exc

    def max_statement_bytes(self) -> int:
        return 1 << 30
