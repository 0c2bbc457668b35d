"""`chargelog projector`: an APScheduler interval job that projects what the journal gained.

The job never overlaps itself (max_instances=1, coalesce) and a database lock keeps a second
process out. When the projection logic's version differs from the one that built the tables, the
service rebuilds them from the journal by itself.

The schema is checked on every (re)connection and again before every pass: a schema this code
does not know (newer, or not migrated with auto_migrate off) stops the service with one line and
a non-zero exit, before anything is written; retrying could only log the same refusal forever.
So does a damaged journal segment met by a pass (journal.segments.SegmentDamaged, its one line):
the projection cannot go past it, and nothing is written from it.

Once a day, after a pass and under the same lock, the service seals what is due (journal.sealing:
whole UTC days `[journal] seal_after_days` old, up to the checkpoint the pass just wrote; 0 turns
this off). "Once a day" is 24 h after the last seal run recorded in `journal_seal_run` (by this
service or by `chargelog seal`), so a restart never seals twice. A seal that fails (a block that
does not decode back to its rows, a missing privilege, a damaged segment) is logged as an error
with its one line and tried again 24 h later (or at the next start): each message stays where it
was, in a row or in a segment already committed, and projecting goes on, which matters more than
the disk space. A database outage during a seal is an outage like any other:
the next pass after it seals. A long first seal pings the watchdog as it goes and stops between
pages on SIGTERM (what it sealed is committed; the next start goes on from there).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.blocking import BlockingScheduler

from journal import sealing
from journal.config import Config, site_zone
from journal.migrate import SchemaError, check_current, ensure_schema
from journal.sdnotify import Notifier
from journal.segments import SegmentDamaged
from journal.storage import StorageError, StorageUnavailable, Store, open_store
from projector.catchup import LockHeld, project_or_rebuild, projector_lock
from projector.money.pricing import config_tariff
from projector.readings import PROJECTED_KEYS
from projector.runner import LIVE
from projector.tables import read_checkpoint

log = logging.getLogger(__name__)

SEAL_EVERY_US = 24 * 3600 * 1_000_000


class _Stopping(Exception):
    """SIGTERM arrived during a seal: it stops between two pages."""


class ProjectorService:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.zone = site_zone(cfg.site.timezone)
        self.config_tariff = config_tariff(cfg.tariff)
        self.notifier = Notifier()
        self._store: Store | None = None
        self._lock_warned = False
        self._down = False
        self._scheduler: BlockingScheduler | None = None
        self.refused: SchemaError | SegmentDamaged | None = None
        self._seal_retry_us = 0  # after a failed seal: no new attempt before this moment
        self._stopping = threading.Event()

    def tick(self) -> None:
        """One scheduled pass (and the daily seal); an outage is logged and retried at the next
        tick, a schema this code does not know or a damaged segment stops the service."""
        try:
            self._tick()
        except (SchemaError, SegmentDamaged) as exc:
            self.refused = exc
            self._disconnect()
            if self._scheduler is not None:
                self._scheduler.shutdown(wait=False)  # from the job's thread: never wait on it

    def _tick(self) -> None:
        try:
            store = self._connect()
            try:
                with projector_lock(store, 0):
                    self._lock_warned = False
                    self._project(store)
                    self._seal_if_due(store)
            except LockHeld:
                if not self._lock_warned:
                    log.warning("another projector holds the lock; waiting for it")
                    self._lock_warned = True
                return
            if self._down:
                log.warning("database is back; projecting again")
                self._down = False
            self.notifier.watchdog()
        except StorageUnavailable as exc:
            if not self._down:
                log.warning(
                    "database unavailable (%s); retrying every %s s",
                    exc,
                    self.cfg.projector.interval,
                )
                self._down = True
            self._disconnect()

    def _connect(self) -> Store:
        """The service's connection; a new one is kept only once its schema is checked."""
        if self._store is None:
            store = open_store(self.cfg.database.url)
            try:
                ensure_schema(store, self.cfg.database.auto_migrate)
            except BaseException:
                store.close()
                raise
            self._store = store
        return self._store

    def _disconnect(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def _project(self, store: Store) -> None:
        check_current(store)
        done = project_or_rebuild(
            store,
            zone=self.zone,
            config_tariff=self.config_tariff,
            names=self.cfg.chargers.display_names(),
            on_rebuild=lambda reason: log.warning(
                "%s: rebuilding the projection from the journal", reason
            ),
        )
        result = done.result
        if done.rebuilt is not None:
            log.info("rebuilt from %d journal entries; %s", result.entries, done.rebuilt.summary())
        elif result.entries:
            log.info(
                "projected %d entries up to %d (%d cycles, %d sessions written)",
                result.entries,
                result.position,
                result.cycles_written,
                result.plugins_written,
            )

    def _seal_if_due(self, store: Store) -> None:
        """The daily seal, under the lock the pass holds (see the module's docstring)."""
        days = self.cfg.journal.seal_after_days
        now = int(time.time() * 1_000_000)
        if days == 0 or now < self._seal_retry_us:
            return
        last = sealing.last_run(store)
        checkpoint = read_checkpoint(store, LIVE)
        store.rollback()
        if (last is not None and now - last < SEAL_EVERY_US) or checkpoint is None:
            return
        try:
            report = sealing.seal(
                store,
                position=checkpoint.position,
                before_us=sealing.cutoff(now, days),
                progress=self._sealing,
                replayed_keys=PROJECTED_KEYS,
            )
        except _Stopping:
            store.rollback()
            log.info("seal interrupted by the stop; the next start goes on with it")
            return
        except StorageUnavailable:
            raise
        except (SegmentDamaged, sealing.SealCheckFailed, StorageError) as exc:
            store.rollback()
            self._seal_retry_us = now + SEAL_EVERY_US
            log.error("sealing failed: %s; projecting goes on, next attempt in 24 h", exc)
            return
        log.info("daily seal: %s", report.summary())

    def _sealing(self, covered: int) -> None:
        """The seal's progress: proof of life for the watchdog, and where a stop can cut in."""
        if self._stopping.is_set():
            raise _Stopping
        self.notifier.watchdog()

    def run(self) -> int:
        """Project every interval until SIGTERM/SIGINT (exit 0); a refused schema ends it by
        raising SchemaError, which the command line prints as one line (exit 1), a damaged
        segment by printing its line (exit 1)."""
        interval = self.cfg.projector.interval
        scheduler = self._scheduler = BlockingScheduler(timezone=UTC)
        scheduler.add_job(
            self.tick,
            "interval",
            seconds=interval,
            id="project",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(interval)),
            next_run_time=datetime.now(UTC),
        )

        def stop(*_: Any) -> None:
            self._stopping.set()
            self.notifier.stopping()
            scheduler.shutdown(wait=True)  # lets a running pass commit

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.notifier.ready(f"projecting every {interval:g} s")
        log.info("projector started: a pass every %g s", interval)
        scheduler.start()
        self._disconnect()
        if self.refused is not None:
            self.notifier.stopping()
            if isinstance(self.refused, SegmentDamaged):
                print(f"chargelog: {self.refused}", file=sys.stderr)
                return 1
            raise self.refused
        log.info("projector stopped")
        return 0
