"""Passes over the journal: the incremental one (from the checkpoint) and the rebuild (the whole
journal into fresh tables, swapped in atomically).

Rows and the checkpoint are written in one transaction, so a crash anywhere leaves either the
previous state or the next one, and a replay of a position already recorded changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import tzinfo

from journal.config import site_zone
from journal.reader import last_seq, raw_pages
from journal.storage import Store
from projector.fleet import Fleet
from projector.money.pricing import Pricer
from projector.money.tariffs import Tariff
from projector.readings import REPLAYED_KEYS
from projector.tables import TableSet, advance_checkpoint, read_checkpoint, upsert
from projector.version import PROJECTOR_VERSION

log = logging.getLogger(__name__)

PAGE = 5000  # journal rows per read
COMMIT_EVERY = 20_000  # journal rows per transaction
LIVE = TableSet()
NEXT = TableSet("_next")


class VersionMismatch(Exception):
    """The tables were built by another version of the projection logic: rebuild them."""


@dataclass
class PassResult:
    entries: int = 0
    position: int = 0
    cycles_written: int = 0
    plugins_written: int = 0


Progress = Callable[[int], None]
Hook = Callable[[], None]


def project_pass(
    store: Store,
    tables: TableSet = LIVE,
    *,
    progress: Progress | None = None,
    before_commit: Hook | None = None,
    max_entries: int | None = None,
    zone: tzinfo | None = None,
    config_tariff: Tariff | None = None,
    names: Mapping[str, str] | None = None,
) -> PassResult:
    """Replay what the journal holds beyond the checkpoint (at most `max_entries`), pricing
    energy with the tariffs in the database in the site's zone (default: the machine's), each
    base topic under its [chargers] display name (`names`, base -> name)."""
    checkpoint = read_checkpoint(store, tables)
    if checkpoint is not None and checkpoint.projector_version != PROJECTOR_VERSION:
        store.rollback()
        raise VersionMismatch(
            f"tables built by projection version {checkpoint.projector_version}, "
            f"this is {PROJECTOR_VERSION}"
        )
    pricer = Pricer.load(store, zone if zone is not None else site_zone(""), config_tariff)
    state = checkpoint.machine_state if checkpoint else None
    if checkpoint is not None and Fleet.pricing_of(state) != pricer.fingerprint:
        raise VersionMismatch("the tariffs or the time zone changed since the sessions were priced")
    names = dict(names or {})
    if checkpoint is not None and Fleet.names_of(state) != names:
        raise VersionMismatch("the [chargers] names changed since the sessions were projected")
    fleet = Fleet.from_json(state, pricer, names)
    expected = checkpoint.position if checkpoint else None
    result = PassResult(position=expected or 0)
    # Read up to what the journal holds now; `max_entries` caps the positions covered. Nothing
    # at or below `bound` can commit later, however many writers there are: each reserves its
    # positions from journal_head (Store.reserve_seq) and holds that lock until it commits, so
    # writers commit in seq order and what this pass reads is a prefix of the journal.
    bound = last_seq(store)
    if max_entries is not None:
        bound = min(bound, result.position + max_entries)
    pending = 0
    # Sealed segments and live rows alike, in seq order (journal.reader); each page says how
    # far it covers, even where nothing relevant was there.
    pages = raw_pages(store, result.position, bound, REPLAYED_KEYS, PAGE, fleet.skipped_topics)
    for page, reached in pages:
        feed = fleet.feed
        for seq, micros, topic, payload, retained in page:
            feed(seq, micros, topic, payload, retained)
        covered = reached - result.position
        result.position = reached
        result.entries += covered
        pending += covered
        if progress is not None:
            progress(covered)
        if pending >= COMMIT_EVERY:
            _commit(store, tables, fleet, expected, result, before_commit)
            expected, pending = result.position, 0
    if pending:
        _commit(store, tables, fleet, expected, result, before_commit)
    else:
        store.rollback()  # end the read transaction
    return result


def _commit(
    store: Store,
    tables: TableSet,
    fleet: Fleet,
    expected: int | None,
    result: PassResult,
    before_commit: Hook | None,
) -> None:
    changes = fleet.drain()
    open_cycles = {
        m.cycle.plugin_id: m.cycle
        for m in fleet.machines.values()
        if m.cycle is not None and not m.cycle.closed
    }
    try:
        upsert(
            store,
            tables,
            changes.cycles.values(),
            changes.plugins.values(),
            open_cycles,
            changes.gaps,
            changes.ledger.values(),
        )
        advance_checkpoint(store, tables, expected, result.position, fleet.to_json())
        if before_commit is not None:
            before_commit()
        store.commit()
    except BaseException:
        store.rollback()
        raise
    result.cycles_written += len(changes.cycles)
    result.plugins_written += len(changes.plugins)
