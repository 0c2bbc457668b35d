"""The backend-agnostic store: everything above this layer writes `?` placeholders and never
imports a database driver, so the same code and the same tests run on SQLite and MariaDB."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence, Sized
from contextlib import contextmanager, suppress
from typing import Any

from journal.storage.url import DatabaseTarget

Params = Sequence[Any]
# Ids per `IN (...)` list: a long history must never make one huge statement.
IN_CHUNK = 500


def in_chunks(values: Sequence[Any], size: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    """`values` in slices of at most `size`, for `IN (?, ?, ...)` queries over many ids."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def placeholders(values: Sized) -> str:
    """`?, ?, ?` for an `IN (...)` list of these values (never the values themselves)."""
    return ", ".join("?" * len(values))


class StorageError(Exception):
    """A database error that retrying will not fix (a bug, a constraint, a privilege)."""


class StorageUnavailable(StorageError):
    """The database cannot be reached right now; the open transaction is gone: retry it whole."""


class Store(ABC):
    """One connection to the database, used by one thread at a time."""

    dialect: str = ""
    last_id_sql: str = ""  # the SELECT of the id the connection's last INSERT gave
    insert_ignore_verb: str = ""  # what starts an INSERT that skips existing keys

    def __init__(self, target: DatabaseTarget) -> None:
        self.target = target

    @abstractmethod
    def connect(self) -> None:
        """Open (or reopen after an outage) the connection."""

    @abstractmethod
    def close(self) -> None:
        """Close the connection; safe to call twice or on a broken connection."""

    @abstractmethod
    def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; returns the affected row count."""

    @abstractmethod
    def executemany(self, sql: str, rows: Sequence[Params]) -> int:
        """Run one INSERT for many rows (a multi-row statement where the driver can)."""

    @abstractmethod
    def query(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        """Run a SELECT and return all its rows."""

    @abstractmethod
    def commit(self) -> None: ...

    @abstractmethod
    def rollback(self) -> None: ...

    @abstractmethod
    def table_exists(self, name: str) -> bool: ...

    def insert_ignore_sql(self, table: str, columns: Sequence[str]) -> str:
        """An INSERT that silently skips rows whose unique key already exists."""
        return (
            f"{self.insert_ignore_verb} INTO {table} ({', '.join(columns)}) "
            f"VALUES ({placeholders(columns)})"
        )

    def upsert_sql(self, table: str, columns: Sequence[str], key: str | Sequence[str]) -> str:
        """An INSERT that replaces every other column when a row with the same `key` (a column
        or the columns of a composite key) exists."""
        keys = (key,) if isinstance(key, str) else tuple(key)
        others = [c for c in columns if c not in keys]
        return (
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders(columns)}) "
            f"{self.on_conflict_sql(keys, others)}"
        )

    @abstractmethod
    def on_conflict_sql(self, keys: Sequence[str], columns: Sequence[str]) -> str:
        """The clause of upsert_sql: on a row with the same `keys`, set these `columns` to the
        values the INSERT brought."""

    @abstractmethod
    def create_table_like(self, new: str, existing: str) -> None:
        """An empty copy of a table with its indexes (for a rebuild's `_next` tables), in the
        caller's transaction: the caller commits (MariaDB commits DDL by itself)."""

    @abstractmethod
    def swap_tables(self, tables: Sequence[str], suffix: str) -> None:
        """Atomically replace each table by its `<table><suffix>` copy; readers see either all
        old or all new tables, never a mix or a half-built one."""

    @abstractmethod
    def try_lock(self, name: str, wait: float) -> bool:
        """A lock between processes (not threads) on this database; False if another holds it."""

    @abstractmethod
    def unlock(self, name: str) -> None: ...

    @abstractmethod
    def micros_sql(self, column: str) -> str:
        """An expression giving a stored UTC time as integer microseconds since the epoch,
        computed by the server (cheaper than parsing text or datetimes in Python)."""

    def micros_column(self, column: str) -> str:
        """What to select for a stored UTC time that `micros_values` turns into microseconds:
        by default the server computes them (micros_sql)."""
        return self.micros_sql(column)

    def micros_values(self, values: list[Any]) -> list[int]:
        """The column `micros_column` selected, as integer microseconds, for a page of rows."""
        return values

    def int_div_sql(self, dividend: str, divisor: str) -> str:
        """Exact division of non-negative integers, rounded down (SQLite's `/` on integers)."""
        return f"{dividend} / {divisor}"

    @abstractmethod
    def real_sql(self, expression: str) -> str:
        """An expression reading a text or binary value (a journal payload) as a floating-point
        number, for averages computed by the server."""

    @abstractmethod
    def exact_sum_sql(self, expression: str) -> str:
        """An aggregate summing a money column exactly (never through a float), so totals over
        years of sessions are computed by the database and only their sums travel."""

    @abstractmethod
    def reserve_seq(self, count: int) -> int:
        """Take the next `count` journal positions, in the caller's open transaction: returns
        the last position before them (the rows get base+1 .. base+count). The counter row
        (`journal_head`, schema step 0009) stays locked until the caller commits or rolls back,
        so writers commit one after another in seq order and no reader ever sees a later seq
        before an earlier one; a rollback gives the numbers back. Another writer waits here."""

    @abstractmethod
    def script(self, sql: str) -> None:
        """Run a migration script of several statements (DDL)."""

    @abstractmethod
    def max_statement_bytes(self) -> int:
        """How large one statement may be (MySQL's max_allowed_packet), to size batches."""

    def read_committed(self) -> None:
        """Run the next transaction at READ COMMITTED (no gap locks: a large delete then does
        not hold up inserts at the journal's end). Call between transactions; SQLite has one
        writer and no isolation levels, so there it changes nothing."""
        return None

    @contextmanager
    def snapshot(self) -> Iterator[Store]:
        """Reads inside see one state of the database, whatever commits meanwhile (the journal
        reader spans two tables that a seal changes together). Ends with a rollback: only for
        reading."""
        self.rollback()
        self.begin_snapshot()
        try:
            yield self
        finally:
            self.rollback()

    def begin_snapshot(self) -> None:
        """Start the read transaction `snapshot` holds (MySQL's REPEATABLE READ already keeps
        the first read's snapshot until the transaction ends)."""
        self.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")

    def supports_json_table(self) -> bool:
        """Whether the server can unpack a JSON array into rows (JSON_TABLE), so that a batch
        can be inserted with one bound parameter instead of five per row."""
        return False

    def insert_id(self, sql: str, params: Params = ()) -> int:
        """Run one INSERT and return the id AUTO_INCREMENT gave its row; per connection, so
        concurrent inserts by other processes cannot mix the ids up."""
        self.execute(sql, params)
        row = self.query_one(self.last_id_sql)
        if row is None:
            raise StorageError(f"{self.dialect}: no id for the row just inserted")
        return int(row[0])

    def query_one(self, sql: str, params: Params = ()) -> tuple[Any, ...] | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """Commit on success, roll back on any error (and re-raise it)."""
        try:
            yield self
            self.commit()
        except BaseException:
            with suppress(StorageError):
                self.rollback()
            raise

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
