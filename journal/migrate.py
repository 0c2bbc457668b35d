"""Schema versions: apply pending steps, refuse a schema newer than this code."""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from journal.storage import Store

log = logging.getLogger(__name__)

_STEP_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class SchemaError(Exception):
    """The database schema does not match this code; the message says what to do."""


@dataclass(frozen=True)
class Step:
    version: int
    name: str
    sql: str


def _schema_dir(dialect: str) -> Traversable:
    """schema/<dialect>, installed as the package data `chargelog.schema` (a namespace package:
    walk it with the Traversable API, its str() is not a path), or beside a source checkout."""
    try:
        folder = resources.files("chargelog.schema").joinpath(dialect)
        if folder.is_dir():
            return folder
    except ModuleNotFoundError:
        pass
    return Path(__file__).resolve().parent.parent / "schema" / dialect


@functools.cache
def available_steps(dialect: str) -> tuple[Step, ...]:
    """Every step this code knows, in order (read once: services check the schema on every
    connection and every pass)."""
    steps = []
    for entry in sorted(_schema_dir(dialect).iterdir(), key=lambda e: e.name):
        match = _STEP_NAME.match(entry.name)
        if match:
            steps.append(Step(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    if not steps:
        raise SchemaError(f"no schema steps found for {dialect}: the installation is incomplete")
    return tuple(steps)


def current_version(store: Store) -> int:
    if not store.table_exists("schema_version"):
        return 0
    row = store.query_one("SELECT MAX(version) FROM schema_version")
    store.rollback()
    return int(row[0]) if row and row[0] is not None else 0


def code_version(dialect: str) -> int:
    steps = available_steps(dialect)
    return steps[-1].version if steps else 0


def _refuse_newer(have: int, dialect: str) -> None:
    known = code_version(dialect)
    if have > known:
        raise SchemaError(
            f"the database schema is version {have} but this chargelog knows only up to {known}: "
            "upgrade chargelog (never run an older version against a newer database)"
        )


def pending_steps(store: Store) -> list[Step]:
    """Steps not applied yet; raises SchemaError when the database is newer than the code."""
    have = current_version(store)
    _refuse_newer(have, store.dialect)
    return [step for step in available_steps(store.dialect) if step.version > have]


def _recorded_version(store: Store) -> int:
    """One indexed MAX over a few rows, in the caller's transaction (left open, so a check and
    the writes after it see the same schema)."""
    row = store.query_one("SELECT MAX(version) FROM schema_version")
    return int(row[0]) if row and row[0] is not None else 0


def refuse_newer(store: Store) -> None:
    """On every new connection of a long-running service: a newer chargelog may have migrated the
    database since this one started, and tables it does not know must never be written (or
    misread). Raises SchemaError."""
    _refuse_newer(_recorded_version(store), store.dialect)


def check_current(store: Store) -> None:
    """Before each projector pass writes: the schema is exactly the one this code knows.
    Raises SchemaError (newer, or steps missing)."""
    have = _recorded_version(store)
    _refuse_newer(have, store.dialect)
    if have < code_version(store.dialect):
        raise SchemaError(
            f"the database schema is version {have} but this chargelog needs "
            f"{code_version(store.dialect)}: run `chargelog migrate`"
        )


def migrate(store: Store) -> list[Step]:
    """Apply what is pending; running it again is a no-op."""
    applied = []
    for step in pending_steps(store):
        log.info("applying schema step %04d_%s", step.version, step.name)
        store.script(step.sql)
        store.execute(
            store.insert_ignore_sql("schema_version", ("version", "name", "applied_at")),
            (step.version, step.name, datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")),
        )
        store.commit()
        applied.append(step)
    return applied


def ensure_schema(store: Store, auto_migrate: bool) -> None:
    """At service start: apply pending steps, or refuse with what to run."""
    pending = pending_steps(store)
    if not pending:
        return
    if not auto_migrate:
        names = ", ".join(f"{s.version:04d}_{s.name}" for s in pending)
        raise SchemaError(
            f"the database schema needs {len(pending)} step(s) ({names}): run `chargelog migrate` "
            "(as a user allowed to create tables), or set [database] auto_migrate = true"
        )
    migrate(store)
