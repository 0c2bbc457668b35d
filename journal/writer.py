"""Durable writes for the recorder: into the journal when the database is there, into the local
spool when it is not, and the spool back into the journal, in order, when it returns."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence

from journal import entries
from journal.entries import Row
from journal.migrate import ensure_schema
from journal.spool import Spool
from journal.storage import StorageError, StorageUnavailable, Store

log = logging.getLogger(__name__)

MAX_BACKOFF = 30.0


class JournalWriter:
    """Owns the recorder's one database connection: one writer, so seq order is arrival order."""

    def __init__(
        self,
        connect: Callable[[], Store],
        spool: Spool,
        *,
        auto_migrate: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._connect = connect
        self._spool = spool
        self._auto_migrate = auto_migrate
        self._clock = clock
        self._store: Store | None = None
        self._down_since: float | None = None
        self._down_reason = ""
        self._backoff = 1.0
        self._next_try = 0.0
        self.spooled = 0
        self.committed = 0

    @property
    def database_up(self) -> bool:
        return self._store is not None and self._down_since is None

    def start(self) -> None:
        """Connect and check the schema; an unreachable database only means spooling for now."""
        self._try_reconnect(force=True)

    def write(self, rows: Sequence[Row]) -> None:
        """Return once `rows` are durable (journal or spool); raise if neither can take them."""
        if self._down_since is not None:
            self._try_reconnect()
        if self._store is not None and self._down_since is None:
            try:
                entries.append(self._store, rows)
                self._store.commit()
                self.committed += len(rows)
                return
            except StorageUnavailable as exc:
                self._went_down(exc)
        self._spool.append(rows)
        self.spooled += len(rows)

    def tick(self) -> None:
        """Called when idle: retry the database and drain the spool when it is due."""
        if self._down_since is not None or self._spool.has_data():
            self._try_reconnect()

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def _try_reconnect(self, force: bool = False) -> None:
        now = self._clock()
        if not force and now < self._next_try:
            return
        try:
            if self._store is None or self._down_since is not None:
                if self._store is not None:
                    self._store.close()
                self._store = self._connect()
                ensure_schema(self._store, self._auto_migrate)
            self._drain_spool(self._store)
        except StorageUnavailable as exc:
            if self._store is not None:
                self._store.close()
                self._store = None
            self._went_down(exc)
            self._next_try = now + self._backoff
            self._backoff = min(self._backoff * 2, MAX_BACKOFF)
            return
        if self._down_since is not None:
            log.warning(
                "database is back after %.1f s; %d message(s) were spooled and are now journaled",
                now - self._down_since,
                self.spooled,
            )
            self._down_since = None
            self.spooled = 0
        self._backoff = 1.0

    def _drain_spool(self, store: Store) -> None:
        # A crash here replays the whole spool next time: duplicates, never a loss.
        drained = 0
        for rows in self._spool.read():
            entries.append(store, rows)
            store.commit()
            drained += len(rows)
        if drained:
            self._spool.clear()
            self.committed += drained
            log.info("drained %d spooled message(s) into the journal", drained)

    def _went_down(self, exc: StorageError) -> None:
        if self._store is not None:
            with contextlib.suppress(StorageError):
                self._store.rollback()
        if self._down_since is None:
            self._down_since = self._clock()
            self._down_reason = str(exc)
            log.warning(
                "database unavailable (%s); spooling to %s until it returns", exc, self._spool.path
            )
