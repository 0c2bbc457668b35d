"""What the projection knows about the chargers and about itself, for the health page."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from journal.entries import last_seq, to_micros
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


def firmware_label(counter_kind: str | None, wh_scale: float | None) -> str:
    if counter_kind == "session_energy":
        return "4.1.1 or newer (session_energy)"
    if counter_kind == "total_energy":
        return "4.x (total_energy only)"
    if counter_kind == "wh":
        if wh_scale is None:
            return "2.x (wh, unit not decided yet)"
        return (
            "2.x up to 2.7.5 (wh in watt-seconds)"
            if wh_scale < 1
            else "2.7.6 or newer (wh lifetime)"
        )
    return "unknown (no energy counter seen)"


def _utc(micros: int | None) -> datetime | None:
    return None if micros is None else datetime.fromtimestamp(micros / US, UTC)


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
                firmware=firmware_label(state.get("counter_kind"), state.get("wh_scale")),
                state=state.get("state"),
                plugged=bool(plugin and plugin.get("unplugged_at") is None),
                charging=bool(cycle and cycle.get("ended_at") is None),
                bad_values=int(state.get("bad_values", 0)),
            )
        )
    return statuses


def projection_status(store: Store) -> ProjectionStatus:
    newest = last_seq(store)
    newest_at = store.query_one("SELECT received_at FROM journal WHERE seq = ?", (newest,))
    checkpoint = read_checkpoint(store, LIVE)
    row = store.query_one("SELECT updated_at FROM projection_checkpoint WHERE name = 'sessions'")
    projected_at = None
    if checkpoint is not None and checkpoint.position:
        found = store.query_one(
            "SELECT received_at FROM journal WHERE seq <= ? ORDER BY seq DESC LIMIT 1",
            (checkpoint.position,),
        )
        projected_at = found[0] if found else None
    store.rollback()
    return ProjectionStatus(
        journal_position=newest,
        journal_newest_at=_utc(to_micros(newest_at[0])) if newest_at else None,
        projected_position=checkpoint.position if checkpoint else 0,
        projected_newest_at=_utc(to_micros(projected_at)) if projected_at else None,
        projector_version=checkpoint.projector_version if checkpoint else None,
        updated_at=_utc(to_micros(row[0])) if row else None,
    )


def recorder_gaps(store: Store, since: datetime) -> list[tuple[datetime, datetime, int]]:
    """Silences of the whole journal since a moment, newest first."""
    stamp = since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    rows = store.query(
        "SELECT started_at, ended_at, seconds FROM recorder_gap WHERE ended_at >= ? "
        "ORDER BY started_at DESC",
        (stamp,),
    )
    store.rollback()
    return [
        (_utc(to_micros(a)), _utc(to_micros(b)), int(s))  # type: ignore[misc]
        for a, b, s in rows
    ]


@dataclass(frozen=True)
class BrokerSessionLoss:
    """A broker that forgot the recorder's session: messages published for it from `since` until
    shortly after `detected_at` may be missing from the journal (journal/broker_session.py)."""

    client_id: str
    since: datetime
    detected_at: datetime


def broker_sessions_lost(store: Store, since: datetime) -> list[BrokerSessionLoss]:
    """The recorder's lost broker sessions detected since a moment, newest first."""
    stamp = since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    rows = store.query(
        "SELECT client_id, since, detected_at FROM broker_session_lost WHERE detected_at >= ? "
        "ORDER BY detected_at DESC",
        (stamp,),
    )
    store.rollback()
    return [
        BrokerSessionLoss(str(client), _utc(to_micros(a)), _utc(to_micros(b)))  # type: ignore[arg-type]
        for client, a, b in rows
    ]
