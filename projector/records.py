"""What the projection produces: plug-in sessions and their charging cycles, with flags.

Times are integer microseconds since the epoch (exact, and JSON-safe for the checkpoint).
Ids are journal positions: a cycle's id is the seq of the message that started it, a plug-in
session's id the seq of the message that showed the car connected. They are natural and
deterministic, so a replay upserts the same rows and a rebuild keeps every URL stable.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# One sentence each, shown on the page beside the badge.
FLAG_TEXT = {
    "reboot": "The charger restarted during this period.",
    "counter_rollback": "The energy counter jumped back (a restart lost unsaved energy); "
    "counting resumed from the value it came back with.",
    "gap": "No data arrived from the charger for a while (seconds in the detail).",
    "unplug_inferred": "The unplug was not seen; it is placed at the last moment the car "
    "was known connected.",
    "bad_values": "Some readings were unreadable or implausible and were ignored "
    "(count in the detail).",
    "retained_replay": "The broker replayed a stale retained state that disagreed with the "
    "live one; it was ignored.",
    "legacy_counter": "Energy comes from the `wh` counter, not a session counter: watt-seconds "
    "of the session on 2.x up to 2.7.5, the lifetime Wh (moving only at unplug) from 2.7.6 to "
    "4.1.0.",
    "two_devices": "Two devices seem to publish under this charger's base topic (their uptimes "
    "interleave, or the state goes back and forth at every dump): give each its own base topic; "
    "sessions here mix both.",
    "clock_jump": "The recorder's clock went back during this period (seconds in the detail); "
    "times and durations after it may read short.",
    "meter_mismatch": "The charger's lifetime meter (`total_energy`) rose by more or less than "
    "this session's energy, beyond its resolution and 1% (session minus meter, Wh, in the "
    "detail; a counter rollback is allowed for).",
    "charging_estimated": "Charging went on during a silence (the counter rose across it): "
    "that time is estimated from the energy at the cycle's own peak power (seconds in the "
    "detail).",
    "energy_estimated": "No counter showed this energy while charging (lifetime `wh` "
    "chargers, 2.7.6 to 4.1.0): it is integrated from the charger's current and voltage (Wh in "
    "the detail) until the lifetime counter moves at the unplug and replaces it.",
    "energy_outside_cycle": "The counter rose while the charger did not report charging; "
    "that energy is not in any cycle.",
    "legacy": "Imported from the original openevse-mqtt-mysql logger (its energySession id in "
    "the detail): only its end, duration and energy are known, with no journal behind them.",
}

END_REASONS = ("stopped", "unplugged", "paused", "disabled", "fault", "reboot", "gap")


def add_flag(flags: dict[str, int], name: str, amount: int = 1) -> None:
    """Flags are counters: a reboot seen twice is 2, a gap carries its seconds."""
    flags[name] = flags.get(name, 0) + amount


def set_flag(flags: dict[str, int], name: str) -> None:
    """A flag that is present or not (its value is 1)."""
    flags.setdefault(name, 1)


@dataclass(slots=True)
class Cycle:
    id: int
    charger: str
    plugin_id: int
    started_at: int
    last_charging_at: int
    ended_at: int | None = None
    end_reason: str | None = None
    energy_wh: float = 0.0
    counter_start: float | None = None
    counter_end: float | None = None
    peak_power_w: float | None = None
    flags: dict[str, int] = field(default_factory=dict)
    # Charging inside a silence that ended the cycle, estimated from the energy the counter
    # showed after it at the cycle's own peak power (microseconds, part of its duration).
    estimated_us: int = 0
    # The part of energy_wh integrated from amp and voltage (no counter showed it yet).
    estimated_wh: float = 0.0
    # priced parts: "tariff id|band|price|currency" -> [Wh, exact cost as text]
    costs: dict[str, list] = field(default_factory=dict)

    @property
    def closed(self) -> bool:
        return self.ended_at is not None

    def duration_us(self) -> int:
        end = self.ended_at if self.ended_at is not None else self.last_charging_at
        return end - self.started_at + self.estimated_us


@dataclass(slots=True)
class Plugin:
    id: int
    charger: str
    plugged_at: int
    last_connected_at: int
    unplugged_at: int | None = None
    energy_wh: float = 0.0
    charging_us: int = 0
    cycle_count: int = 0
    flags: dict[str, int] = field(default_factory=dict)
    # The lifetime meter (Wh) when the car was plugged in and at the last reading of the session,
    # and how far it went back meanwhile (a rollback, negative): None where it was never read.
    meter_start: float | None = None
    meter_end: float | None = None
    meter_rollback_wh: float = 0.0
    # Not written until the charger's own next dump agrees that a car is there (a replay of
    # stale values opens a plug-in that the next dump denies).
    tentative: bool = False
    # The RFID tag that authorised the session (`rfid_auth`), the last one heard during it.
    rfid: str | None = None

    @property
    def closed(self) -> bool:
        return self.unplugged_at is not None


@dataclass(slots=True)
class LedgerRow:
    """What one charger's lifetime meter did over one stretch: the books a month closes with.

    A plug-in session's stretch starts at its plug-in (so the meter's rise falls in the month
    its energy is counted in); outside sessions, a quarter of an hour of the meter's own time.
    `rise_wh` is the meter's net change; of it, `gap_wh` rose across a silence with no counter
    seeing it (energy delivered while the recorder was blind), `rollback_wh` and `reset_wh`
    (negative) went back, and `outside_wh` was counted by the session counter outside every
    session. The rest should be the sessions' energy. `id` is the seq of the reading that
    opened the row (deterministic, like every record's id)."""

    id: int
    charger: str
    anchor_at: int
    rise_wh: float = 0.0
    gap_wh: float = 0.0
    rollback_wh: float = 0.0
    reset_wh: float = 0.0
    outside_wh: float = 0.0


def to_state(record: Cycle | Plugin | LedgerRow | None) -> dict[str, Any] | None:
    return None if record is None else asdict(record)


def cycle_from_state(data: dict[str, Any] | None) -> Cycle | None:
    return None if data is None else Cycle(**data)


def ledger_from_state(data: dict[str, Any]) -> LedgerRow:
    return LedgerRow(**data)


def plugin_from_state(data: dict[str, Any] | None) -> Plugin | None:
    return None if data is None else Plugin(**data)
