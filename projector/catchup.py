"""What every projecting process does around a pass, written once for the command line
(`chargelog project`), the service (`chargelog projector`) and the legacy import: take the
projector lock for the whole work (never two writers of the projection at once), and, when the
tables were built by another projection logic or with other tariffs, rebuild them from the
journal instead of extending them.

Each caller keeps its own words (a line on stderr, a log record): this module raises or reports
what happened and prints nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import tzinfo

from journal.storage import Store
from projector.money.tariffs import Tariff
from projector.rebuild import Difference, rebuild
from projector.runner import PassResult, Progress, VersionMismatch, project_pass

LOCK = "projector"  # the database lock every projecting process takes


class LockHeld(Exception):
    """Another process holds the projector lock: this one must not write the projection."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"another projector held the lock for {wait:g} s")
        self.wait = wait


@contextmanager
def projector_lock(store: Store, wait: float) -> Iterator[None]:
    """Hold the projector lock for the block, waiting up to `wait` seconds for it; raises
    LockHeld (before the block runs) when another process keeps it longer. Released however the
    block ends."""
    if not store.try_lock(LOCK, wait):
        raise LockHeld(wait)
    try:
        yield
    finally:
        store.unlock(LOCK)


@dataclass(frozen=True)
class CatchUp:
    """What project_or_rebuild did: an incremental pass (`rebuilt` None) or a rebuild, with
    what it changed and why it was needed."""

    result: PassResult
    rebuilt: Difference | None = None
    reason: str = ""


def project_or_rebuild(
    store: Store,
    *,
    progress: Progress | None = None,
    zone: tzinfo | None = None,
    config_tariff: Tariff | None = None,
    on_rebuild: Callable[[str], None] | None = None,
    names: Mapping[str, str] | None = None,
) -> CatchUp:
    """Project what the journal gained; on a projection-version or pricing mismatch, replay the
    whole journal into fresh tables instead (the only way the stored rows can agree with this
    code again). `on_rebuild` hears the reason before the (long) rebuild starts. The caller
    holds the projector lock."""
    try:
        return CatchUp(
            project_pass(
                store, progress=progress, zone=zone, config_tariff=config_tariff, names=names
            )
        )
    except VersionMismatch as exc:
        reason = str(exc)
    if on_rebuild is not None:
        on_rebuild(reason)
    result, diff = rebuild(
        store, progress=progress, zone=zone, config_tariff=config_tariff, names=names
    )
    return CatchUp(result, diff, reason)
