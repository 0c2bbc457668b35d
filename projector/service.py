"""`chargelog projector`: an APScheduler interval job that projects what the journal gained.

The job never overlaps itself (max_instances=1, coalesce) and a database lock keeps a second
process out. When the projection logic's version differs from the one that built the tables, the
service rebuilds them from the journal by itself.
"""

from __future__ import annotations

import logging
import signal
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.blocking import BlockingScheduler

from journal.config import Config, site_zone
from journal.migrate import ensure_schema
from journal.sdnotify import Notifier
from journal.storage import StorageUnavailable, Store, open_store
from projector.pricing import config_tariff
from projector.rebuild import rebuild
from projector.runner import LOCK, VersionMismatch, project_pass

log = logging.getLogger(__name__)


class ProjectorService:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.zone = site_zone(cfg.site.timezone)
        self.config_tariff = config_tariff(cfg.tariff)
        self.notifier = Notifier()
        self._store: Store | None = None
        self._lock_warned = False
        self._down = False

    def tick(self) -> None:
        """One scheduled pass; every failure is logged and retried at the next tick."""
        try:
            store = self._connect()
            if not store.try_lock(LOCK, 0):
                if not self._lock_warned:
                    log.warning("another projector holds the lock; waiting for it")
                    self._lock_warned = True
                return
            self._lock_warned = False
            try:
                self._project(store)
            finally:
                store.unlock(LOCK)
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
            if self._store is not None:
                self._store.close()
                self._store = None

    def _connect(self) -> Store:
        if self._store is None:
            self._store = open_store(self.cfg.database.url)
            ensure_schema(self._store, self.cfg.database.auto_migrate)
        return self._store

    def _project(self, store: Store) -> None:
        try:
            result = project_pass(store, zone=self.zone, config_tariff=self.config_tariff)
        except VersionMismatch as exc:
            log.warning("%s: rebuilding the projection from the journal", exc)
            result, diff = rebuild(store, zone=self.zone, config_tariff=self.config_tariff)
            log.info("rebuilt from %d journal entries; %s", result.entries, diff.summary())
            return
        if result.entries:
            log.info(
                "projected %d entries up to %d (%d cycles, %d sessions written)",
                result.entries,
                result.position,
                result.cycles_written,
                result.plugins_written,
            )

    def run(self) -> int:
        interval = self.cfg.projector.interval
        scheduler = BlockingScheduler(timezone=UTC)
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
            self.notifier.stopping()
            scheduler.shutdown(wait=True)  # lets a running pass commit

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.notifier.ready(f"projecting every {interval:g} s")
        log.info("projector started: a pass every %g s", interval)
        scheduler.start()
        if self._store is not None:
            self._store.close()
        log.info("projector stopped")
        return 0
