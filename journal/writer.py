"""Durable writes for the recorder: into the journal when the database is there, into the local
spool when it is not, and the spool back into the journal, in order, when it returns. When
neither can take a batch (the database away and the spool's disk full), `write` raises
WriteBlocked: the caller must not acknowledge it, and retries the same batch later."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence

from journal import entries
from journal.entries import Row
from journal.migrate import ensure_schema
from journal.spool import Spool, SpoolError
from journal.storage import StorageError, StorageUnavailable, Store

log = logging.getLogger(__name__)

MAX_BACKOFF = 30.0
# While blocked (nothing can be stored) the database is retried at least this often: every
# second blocked is a second the broker's queue grows and QoS 0 messages may be dropped.
BLOCKED_BACKOFF = 2.0


class WriteBlocked(Exception):
    """Neither the journal nor the spool could take the rows: do not acknowledge them."""


class JournalWriter:
    """Owns the recorder's one database connection and writes its batches in arrival order; the
    positions each batch takes come from journal_head in its transaction (entries.append), so
    they follow commit order whatever other writers do."""

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
        self._blocked_since: float | None = None
        self.spooled = 0
        self.committed = 0

    @property
    def database_up(self) -> bool:
        return self._store is not None and self._down_since is None

    def blocked_for(self) -> float | None:
        """Seconds since nothing could be stored, or None when writes succeed."""
        return None if self._blocked_since is None else self._clock() - self._blocked_since

    def start(self) -> None:
        """Check the spool (cut a torn tail), connect and check the schema; an unreachable
        database only means spooling for now. Raises SchemaError for a schema it must not
        write into, before anything is drained."""
        try:
            self._spool.open()
        except SpoolError as exc:
            log.error("%s; retrying when it is needed", exc)  # append and read re-open it
        self._try_reconnect(force=True)

    def write(self, rows: Sequence[Row]) -> None:
        """Return once `rows` are durable (journal or spool); WriteBlocked if neither can take
        them (nothing half-written is left: call again with the same rows)."""
        if self._down_since is not None:
            self._try_reconnect()
        if self._store is not None and self._down_since is None:
            try:
                entries.append(self._store, rows)
                self._store.commit()
                self.committed += len(rows)
                self._unblocked()
                return
            except StorageUnavailable as exc:
                self._went_down(exc)
        try:
            self._spool.append(rows)
        except SpoolError as exc:
            self._blocked(exc)
            raise WriteBlocked(str(exc)) from exc
        self.spooled += len(rows)
        self._unblocked()

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
            cap = BLOCKED_BACKOFF if self._blocked_since is not None else MAX_BACKOFF
            self._backoff = min(self._backoff * 2, cap)
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
        report = self._spool.last_read
        if report.skipped_anything:
            log.error(
                "spool %s: skipped %d damaged region(s) (%d bytes) and %d invalid frame(s); "
                "every intact frame around them was journaled",
                self._spool.path,
                report.damaged_regions,
                report.damaged_bytes,
                report.invalid_frames,
            )
        if drained or self._spool.has_data():
            self._spool.clear()
        if drained:
            self.committed += drained
            legacy = (
                f" ({report.legacy_rows} from an old-format spool)" if report.legacy_rows else ""
            )
            log.info("drained %d spooled message(s) into the journal%s", drained, legacy)

    def _blocked(self, exc: SpoolError) -> None:
        if self._blocked_since is not None:
            return
        self._blocked_since = self._clock()
        # Retry the database soon, whatever the backoff had grown to.
        self._backoff = min(self._backoff, BLOCKED_BACKOFF)
        self._next_try = min(self._next_try, self._blocked_since + BLOCKED_BACKOFF)
        log.error(
            "%s: %s; not acknowledging (the broker keeps what is unacknowledged) until the "
            "database or space returns",
            "spool full" if exc.full else "spool not writable",
            exc,
        )

    def _unblocked(self) -> None:
        if self._blocked_since is not None:
            log.warning(
                "storing messages again after %.1f s blocked", self._clock() - self._blocked_since
            )
            self._blocked_since = None

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
