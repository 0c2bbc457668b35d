"""What the projection knows about the chargers and about itself, for the health page."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from journal import entries, sealing, segments
from journal.entries import stored_text, to_micros
from journal.reader import last_seq, received_at_or_before
from journal.storage import Store
from projector.runner import LIVE
from projector.tables import read_checkpoint

US = 1_000_000


@dataclass(frozen=True)
class ChargerStatus:
    name: str
    last_message_at: datetime | None
    firmware: str  # what the energy counter says about the firmware generation
    state: int | None
    plugged: bool
    charging: bool
    bad_values: int
    two_devices: int = 0  # times two interleaved uptime series were seen under this base
    replays: int = 0  # plug-ins opened by stale values that the charger's next dump denied


@dataclass(frozen=True)
class ProjectionStatus:
    journal_position: int  # the newest seq in the journal
    journal_newest_at: datetime | None
    projected_position: int  # where the checkpoint stands
    projected_newest_at: datetime | None
    projector_version: int | None
    updated_at: datetime | None

    @property
    def lag_entries(self) -> int:
        return max(0, self.journal_position - self.projected_position)


def firmware_label(
    counter_kind: str | None, wh_scale: float | None, has_vehicle: bool = False
) -> str:
    """The firmware generation its counters (and `vehicle`, which 4.x and newer publish and 2.x
    and ESP32 3.x do not) tell apart, worded as no more than they show."""
    if counter_kind == "session_energy":
        return "4.1.1 or newer (session_energy)"
    if counter_kind == "total_energy":
        return "4.x (total_energy only)"
    if counter_kind == "wh":
        if wh_scale is None:
            return "2.x to 4.1.0 (wh, unit not decided yet)"
        if wh_scale < 1:
            return "2.x up to 2.7.5 (wh in watt-seconds)"
        if has_vehicle:
            return "4.0 to 4.1.0 (wh lifetime, no session counter)"
        return "2.7.6 to 3.x (wh lifetime, no vehicle)"
    return "unknown (no energy counter seen)"


def _utc(micros: int | None) -> datetime | None:
    return None if micros is None else datetime.fromtimestamp(micros / US, UTC)


def _moment(stored: str | datetime) -> datetime:
    """A stored UTC time (SQLite text, a MariaDB datetime) as an aware datetime."""
    return datetime.fromtimestamp(to_micros(stored) / US, UTC)


def charger_statuses(store: Store) -> list[ChargerStatus]:
    checkpoint = read_checkpoint(store, LIVE)
    store.rollback()
    if checkpoint is None:
        return []
    machines = json.loads(checkpoint.machine_state).get("machines", {})
    statuses = []
    for name, state in sorted(machines.items()):
        plugin, cycle = state.get("plugin"), state.get("cycle")
        statuses.append(
            ChargerStatus(
                name=name,
                last_message_at=_utc(state.get("last_msg_at")),
                firmware=firmware_label(
                    state.get("counter_kind"), state.get("wh_scale"), bool(state.get("has_vehicle"))
                ),
                state=state.get("state"),
                plugged=bool(
                    plugin and plugin.get("unplugged_at") is None and not plugin.get("tentative")
                ),
                charging=bool(cycle and cycle.get("ended_at") is None),
                bad_values=int(state.get("bad_values", 0)),
                two_devices=int(state.get("two_devices", 0)),
                replays=int(state.get("replays", 0)),
            )
        )
    return statuses


def projection_status(store: Store) -> ProjectionStatus:
    # One snapshot: a seal committing meanwhile moves rows from `journal` to `journal_segment`.
    with store.snapshot():
        newest = last_seq(store)
        newest_at = received_at_or_before(store, newest)
        checkpoint = read_checkpoint(store, LIVE)
        projected_at = None
        if checkpoint is not None and checkpoint.position:
            projected_at = received_at_or_before(store, checkpoint.position)
    return ProjectionStatus(
        journal_position=newest,
        journal_newest_at=_utc(newest_at),
        projected_position=checkpoint.position if checkpoint else 0,
        projected_newest_at=_utc(projected_at),
        projector_version=checkpoint.projector_version if checkpoint else None,
        updated_at=_utc(to_micros(checkpoint.updated_at)) if checkpoint else None,
    )


@dataclass(frozen=True)
class JournalFootprint:
    """What keeping every message costs: the journal's bytes on disk and where its messages
    are (live rows, or sealed into compressed segments), and when sealing last ran."""

    disk_bytes: int  # see journal.entries.journal_disk_bytes for what each backend counts
    free_bytes: int  # of those, allocated but empty (journal.entries.journal_free_bytes)
    live_rows: int
    segments: int
    sealed_messages: int
    block_bytes: int  # the sealed segments' compressed blocks alone
    last_seal_run_at: datetime | None  # the last `chargelog seal` run, sealing or not
    last_sealed_at: datetime | None  # when the newest segment was written

    @property
    def messages(self) -> int:
        return self.live_rows + self.sealed_messages

    @property
    def bytes_per_message(self) -> float | None:
        return self.disk_bytes / self.messages if self.messages else None


def journal_footprint(store: Store) -> JournalFootprint:
    """The journal's size for the health page, read in one snapshot (a seal moves messages
    from rows to segments in one transaction: never counted twice or not at all)."""
    with store.snapshot():
        disk = entries.journal_disk_bytes(store)
        free = entries.journal_free_bytes(store)
        live = entries.count(store)
        sealed = segments.totals(store)
        last_run = sealing.last_run(store)
    return JournalFootprint(
        disk_bytes=disk,
        free_bytes=free,
        live_rows=live,
        segments=sealed.segments,
        sealed_messages=sealed.messages,
        block_bytes=sealed.block_bytes,
        last_seal_run_at=_utc(last_run),
        last_sealed_at=_utc(sealed.last_sealed_at),
    )


def _since(store: Store, sql: str, since: datetime) -> list[tuple[Any, ...]]:
    """The rows of a query over a time column compared with `since` (its one `?`), ending the
    read snapshot."""
    rows = store.query(sql, (stored_text(since),))
    store.rollback()
    return rows


def recorder_gaps(store: Store, since: datetime) -> list[tuple[datetime, datetime, int]]:
    """Silences of the whole journal since a moment, newest first."""
    rows = _since(
        store,
        "SELECT started_at, ended_at, seconds FROM recorder_gap WHERE ended_at >= ? "
        "ORDER BY started_at DESC",
        since,
    )
    return [(_moment(a), _moment(b), int(s)) for a, b, s in rows]


@dataclass(frozen=True)
class BrokerSessionLoss:
    """A broker that forgot the recorder's session: messages published for it from `since` until
    shortly after `detected_at` may be missing from the journal (journal/broker_session.py)."""

    client_id: str
    since: datetime
    detected_at: datetime


def broker_sessions_lost(store: Store, since: datetime) -> list[BrokerSessionLoss]:
    """The recorder's lost broker sessions detected since a moment, newest first."""
    rows = _since(
        store,
        "SELECT client_id, since, detected_at FROM broker_session_lost WHERE detected_at >= ? "
        "ORDER BY detected_at DESC",
        since,
    )
    return [BrokerSessionLoss(str(client), _moment(a), _moment(b)) for client, a, b in rows]
