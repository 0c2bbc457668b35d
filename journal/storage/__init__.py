"""Storage: one small layer, a MariaDB/MySQL backend and an SQLite backend."""

from journal.storage.base import (
    IN_CHUNK,
    StorageError,
    StorageUnavailable,
    Store,
    in_chunks,
    placeholders,
)
from journal.storage.url import DatabaseTarget, parse_database_url

__all__ = [
    "IN_CHUNK",
    "DatabaseTarget",
    "StorageError",
    "StorageUnavailable",
    "Store",
    "in_chunks",
    "open_store",
    "parse_database_url",
    "placeholders",
]


def open_store(url: str, *, read_only: bool = False, read_timeout: int = 300) -> Store:
    """A connected store for a database URL; drivers are imported only when used."""
    target = parse_database_url(url)
    store: Store
    if target.dialect == "sqlite":
        from journal.storage.sqlite import SqliteStore

        store = SqliteStore(target, read_only=read_only)
    else:
        from journal.storage.mysql import MysqlStore

        store = MysqlStore(target, read_timeout=read_timeout, read_only=read_only)
    store.connect()
    return store
