"""SQLite backend (stdlib): the embedded default, so a new user needs no server."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
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


class SqliteStore(Store):
    dialect = "sqlite"

    def __init__(self, target: Any, *, read_only: bool = False) -> None:
        super().__init__(target)
        self.read_only = read_only
        self._conn: sqlite3.Connection | None = None

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

    def insert_ignore_sql(self, table: str, columns: Sequence[str]) -> str:
        marks = ", ".join("?" for _ in columns)
        return f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) VALUES ({marks})"

    def script(self, sql: str) -> None:
        try:
            self.conn.executescript(sql)
        except sqlite3.Error as exc:
            raise _wrap(exc) from exc

    def max_statement_bytes(self) -> int:
        return 1 << 30
