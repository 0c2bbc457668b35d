"""MariaDB/MySQL backend (mysql-connector-python): the production store."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import mysql.connector
from mysql.connector import errors as mysql_errors

from journal.storage.base import Params, StorageError, StorageUnavailable, Store

log = logging.getLogger(__name__)

# Connection loss: the open transaction is gone and the whole batch must be replayed.
_UNAVAILABLE_CODES = {1040, 1205, 1213, 2003, 2005, 2006, 2013, 2055}

_RESERVE = "UPDATE journal_head SET last_seq = LAST_INSERT_ID(last_seq + ?) WHERE id = 1"
_NO_HEAD = "mysql: journal_head has no row: run `chargelog migrate` (schema step 0009)"


@lru_cache(maxsize=256)
def _to_format(sql: str) -> str:
    """Our SQL uses `?`; the driver wants `%s` (and a literal % doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


def _mariadb_version(server_info: str) -> tuple[int, ...]:
    """(10, 11, 19) from '5.5.5-10.11.19-MariaDB-0+deb12u1'; () when the server is not MariaDB."""
    match = re.search(r"(\d+)\.(\d+)\.(\d+)-MariaDB", server_info, re.I)
    return tuple(int(part) for part in match.groups()) if match else ()


def _wrap(exc: mysql_errors.Error) -> StorageError:
    if isinstance(exc, mysql_errors.InterfaceError | mysql_errors.OperationalError) or (
        getattr(exc, "errno", None) in _UNAVAILABLE_CODES
    ):
        return StorageUnavailable(f"mysql: {exc}")
    return StorageError(f"mysql: {exc}")


class MysqlStore(Store):
    dialect = "mysql"
    last_id_sql = "SELECT LAST_INSERT_ID()"
    insert_ignore_verb = "INSERT IGNORE"

    def __init__(self, target: Any, *, read_timeout: int = 300, read_only: bool = False) -> None:
        super().__init__(target)
        self.read_timeout = read_timeout
        self.read_only = read_only
        self._conn: Any = None
        self._packet: int | None = None
        self._json_table = False

    @property
    def conn(self) -> Any:
        if self._conn is None:
            self.connect()
        return self._conn

    def connect(self) -> None:
        self.close()
        args = self.target.connect_args()
        try:
            self._conn = mysql.connector.connect(
                **args,
                autocommit=False,
                charset=args.pop("charset", "utf8mb4"),
                connection_timeout=10,
                read_timeout=self.read_timeout,
                write_timeout=60,
            )
            cursor = self._conn.cursor()
            cursor.execute("SET SESSION time_zone = '+00:00'")
            cursor.execute(
                "SET SESSION sql_mode = "
                "CONCAT(@@sql_mode, ',STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION')"
            )
            cursor.close()
        except mysql_errors.Error as exc:
            self._conn = None
            raise _wrap(exc) from exc
        # JSON_TABLE: MariaDB 10.6+ (MySQL 8 has it too, but the journal's use of it is only
        # tested on MariaDB; MySQL keeps the multi-row INSERT). Known from the handshake.
        self._json_table = _mariadb_version(str(self._conn.server_info or "")) >= (10, 6)
        log.debug("mysql connection open (%s implementation)", type(self._conn).__name__)

    def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with contextlib.suppress(mysql_errors.Error):
                conn.close()

    def _run(self, sql: str, params: Params) -> Any:
        try:
            cursor = self.conn.cursor()
            cursor.execute(_to_format(sql), tuple(params))
            return cursor
        except mysql_errors.Error as exc:
            raise self._failed(exc) from exc

    def _failed(self, exc: mysql_errors.Error) -> StorageError:
        wrapped = _wrap(exc)
        if isinstance(wrapped, StorageUnavailable):
            self.close()
        return wrapped

    def execute(self, sql: str, params: Params = ()) -> int:
        cursor = self._run(sql, params)
        count = cursor.rowcount
        cursor.close()
        return count

    def executemany(self, sql: str, rows: Sequence[Params]) -> int:
        if not rows:
            return 0
        try:
            cursor = self.conn.cursor()
            cursor.executemany(_to_format(sql), rows)
            count = cursor.rowcount
            cursor.close()
            return count
        except mysql_errors.Error as exc:
            raise self._failed(exc) from exc

    def query(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        cursor = self._run(sql, params)
        rows = cursor.fetchall()
        cursor.close()
        return rows

    def commit(self) -> None:
        try:
            self.conn.commit()
        except mysql_errors.Error as exc:
            raise self._failed(exc) from exc

    def rollback(self) -> None:
        if self._conn is not None:
            try:
                self._conn.rollback()
            except mysql_errors.Error as exc:
                raise self._failed(exc) from exc

    def int_div_sql(self, dividend: str, divisor: str) -> str:
        return f"{dividend} DIV {divisor}"  # `/` gives a decimal on MariaDB

    def read_committed(self) -> None:
        self.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")

    def table_exists(self, name: str) -> bool:
        row = self.query_one(
            "SELECT 1 FROM information_schema.tables "
            "WHERE table_schema = DATABASE() AND table_name = ?",
            (name,),
        )
        return row is not None

    def on_conflict_sql(self, keys: Sequence[str], columns: Sequence[str]) -> str:
        return "ON DUPLICATE KEY UPDATE " + ", ".join(f"{c} = VALUES({c})" for c in columns)

    def create_table_like(self, new: str, existing: str) -> None:
        self.execute(f"DROP TABLE IF EXISTS {new}")
        self.execute(f"CREATE TABLE {new} LIKE {existing}")

    def swap_tables(self, tables: Sequence[str], suffix: str) -> None:
        # One RENAME TABLE statement is atomic across all the tables it names.
        renames = ", ".join(f"{t} TO {t}_old, {t}{suffix} TO {t}" for t in tables)
        self.execute(f"RENAME TABLE {renames}")
        self.execute(f"DROP TABLE {', '.join(f'{t}_old' for t in tables)}")
        self.commit()

    def try_lock(self, name: str, wait: float) -> bool:
        row = self.query_one("SELECT GET_LOCK(CONCAT(DATABASE(), '.', ?), ?)", (name, int(wait)))
        return bool(row and row[0] == 1)

    def unlock(self, name: str) -> None:
        if self._conn is not None:
            self.query("SELECT RELEASE_LOCK(CONCAT(DATABASE(), '.', ?))", (name,))

    def exact_sum_sql(self, expression: str) -> str:
        return f"SUM({expression})"  # DECIMAL sums are exact

    def real_sql(self, expression: str) -> str:
        return f"CAST({expression} AS DOUBLE)"

    def micros_sql(self, column: str) -> str:
        # Not UNIX_TIMESTAMP(): MariaDB 10.11 returns NULL for times after 2038.
        return f"TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', {column})"

    def reserve_seq(self, count: int) -> int:
        # LAST_INSERT_ID(expr) puts the new value in the OK packet (cursor.lastrowid): one round
        # trip. On Galera a concurrent allocation on another node fails certification (1213,
        # StorageUnavailable): the caller replays the batch.
        cursor = self._run(_RESERVE, (count,))
        top, changed = cursor.lastrowid, cursor.rowcount
        cursor.close()
        if changed != 1 or top is None:
            raise StorageError(_NO_HEAD)
        return int(top) - count

    def script(self, sql: str) -> None:
        for statement in split_statements(sql):
            self.execute(statement)
        self.commit()

    def supports_json_table(self) -> bool:
        return self._json_table

    def max_statement_bytes(self) -> int:
        if self._packet is None:
            row = self.query_one("SELECT @@max_allowed_packet")
            self._packet = int(row[0]) if row else 16 << 20
        return self._packet


def split_statements(sql: str) -> list[str]:
    """Split a migration file on `;` at a line end; our schema files keep to that rule."""
    without_comments = re.sub(r"^\s*--.*$", "", sql, flags=re.M)
    return [s.strip() for s in re.split(r";\s*$", without_comments, flags=re.M) if s.strip()]
