"""Reading the original openevse-mqtt-mysql logger's database (`energySession`, `tarif`,
`versement`), read-only, in one consistent snapshot.

Only this module talks to the original database. It never writes there: the session is put in
read-only mode and the reads run in one READ ONLY transaction, so the three tables are read as
they stood at one moment even if the original logger is still running. Every failure becomes one
LegacySourceError whose message names the source without its password.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from journal.storage.url import DatabaseTarget, parse_database_url, redact_url
from projector.tables import ORIGINAL_COLUMNS

PASSWORD_ENV = "CHARGELOG_LEGACY_PASSWORD"  # used when the URL carries no password

# The tables and the columns read from them: the original schema (docs in the README).
SESSION_SQL = f"SELECT id, {', '.join(ORIGINAL_COLUMNS)} FROM energySession ORDER BY id"
TARIF_SQL = "SELECT id, dateA, value, status FROM tarif ORDER BY id"
VERSEMENT_SQL = "SELECT id, dateV, dateE, value, carid, status FROM versement ORDER BY id"


class LegacySourceError(Exception):
    """The original database cannot be read (bad URL, unreachable, refused, missing table)."""


@dataclass(frozen=True)
class LegacySession:
    """A row of the original `energySession`: one charging cycle ending at `tstamp`."""

    id: int
    tstamp: int | None
    value: int | None  # watt-seconds
    sdur: int | None  # seconds
    carid: int | None
    status: int | None
    tarifid: int | None


@dataclass(frozen=True)
class LegacyTarif:
    """A row of the original `tarif`: a price per kWh from `dateA` (Unix seconds) on."""

    id: int
    date_a: int | None
    value: Decimal | None
    status: int | None


@dataclass(frozen=True)
class LegacyVersement:
    """A row of the original `versement`: a payment made on `dateV`."""

    id: int
    date_v: int | None
    date_e: int | None
    value: Decimal | None
    carid: int | None
    status: int | None


@dataclass(frozen=True)
class LegacyData:
    sessions: list[LegacySession]
    tarifs: list[LegacyTarif]
    versements: list[LegacyVersement]


def parse_legacy_url(url: str, environ: dict[str, str] | None = None) -> DatabaseTarget:
    """`mysql://user:password@host:port/db`, read by the same rules as `[database] url`; without a
    password in the URL, the one in $CHARGELOG_LEGACY_PASSWORD (so it need not appear in a
    process list or shell history)."""
    env = os.environ if environ is None else environ
    if not url.startswith(("mysql://", "mariadb://")):
        raise LegacySourceError(
            f"{redact_url(url)!r} is not a MySQL URL (mysql://USER:PASSWORD@HOST:PORT/DATABASE)"
        )
    try:
        target = parse_database_url(url)
    except ValueError as exc:
        raise LegacySourceError(str(exc)) from None
    return target if target.password else replace(target, password=env.get(PASSWORD_ENV, ""))


def read_legacy(target: DatabaseTarget, *, timeout: int = 10) -> LegacyData:
    """The three tables, read in one read-only snapshot; LegacySourceError on any failure."""
    import mysql.connector
    from mysql.connector import errors

    source = target.redacted()
    try:
        conn = mysql.connector.connect(
            **target.connect_args(), autocommit=False, connection_timeout=timeout
        )
    except errors.Error as exc:
        raise LegacySourceError(f"{source}: cannot connect: {_reason(exc)}") from None
    try:
        cursor = conn.cursor()
        try:
            cursor.execute("SET SESSION TRANSACTION READ ONLY")
            cursor.execute("START TRANSACTION READ ONLY, WITH CONSISTENT SNAPSHOT")
        except errors.ProgrammingError:
            # MySQL before 5.6.5 knows no READ ONLY: only SELECTs follow anyway.
            conn.rollback()
            cursor.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
        data = LegacyData(
            sessions=[
                LegacySession(int(row[0]), *_ints(row[1:]))  # id: the PRIMARY KEY, never NULL
                for row in _read(cursor, SESSION_SQL, source)
            ],
            tarifs=[
                LegacyTarif(int(i), _int(a), _dec(v), _int(s))
                for i, a, v, s in _read(cursor, TARIF_SQL, source)
            ],
            versements=[
                LegacyVersement(int(i), _int(v), _int(e), _dec(value), _int(c), _int(s))
                for i, v, e, value, c, s in _read(cursor, VERSEMENT_SQL, source)
            ],
        )
        conn.rollback()
        return data
    except errors.Error as exc:
        raise LegacySourceError(f"{source}: {_reason(exc)}") from None
    finally:
        with contextlib.suppress(errors.Error):
            conn.close()


def _read(cursor: Any, sql: str, source: str) -> list[tuple[Any, ...]]:
    from mysql.connector import errors

    try:
        cursor.execute(sql)
    except errors.ProgrammingError as exc:
        table = sql.split(" FROM ", 1)[1].split()[0]
        if getattr(exc, "errno", None) == 1146:
            raise LegacySourceError(
                f"{source}: there is no table `{table}`: is this the original logger's database?"
            ) from None
        if getattr(exc, "errno", None) == 1054:
            raise LegacySourceError(
                f"{source}: table `{table}` lacks a column of the original schema: {exc.msg}"
            ) from None
        raise
    return list(cursor.fetchall())


def _reason(exc: Any) -> str:
    """The server's or driver's message, one line (it never contains the password)."""
    message = getattr(exc, "msg", None) or str(exc)
    return " ".join(str(message).split())


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _ints(row: tuple[Any, ...]) -> list[int | None]:
    return [_int(value) for value in row]


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))
