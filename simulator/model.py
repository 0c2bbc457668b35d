"""The simulator's vocabulary: what to simulate, what it emits, and what really happened.

Times are Unix seconds (floats, microsecond resolution) everywhere, like the journal's receive
times, so a projection can be compared with the truth without time-zone conversions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

FIRMWARES = ("2.x", "2.x-lifetime", "3.x", "4.0", "4.1", "5.x")
"""2.x: `wh` = session watt-seconds; 2.x-lifetime: `wh` = lifetime Wh; 3.x (ESP32 WiFi 3.x, no
`vehicle`) and 4.0 (4.0 to 4.1.0): lifetime `wh` only, with amp and voltage; 4.1: session_energy
resets at plug-in; 5.x: session_energy resets at unplug (docs/openevse-mqtt.md, "Energy
counters")."""

FAULTS = (
    "pause",
    "fault",
    "reboot",
    "gap",
    "retained",
    "duplicates",
    "junk",
    "stale_unplug",
    "start_sleeping",
)

END_REASONS = ("stopped", "unplugged", "paused", "disabled", "fault", "reboot", "gap")
"""How a cycle (a maximal run of state 3 inside a plug-in) ends. The truth never says "gap": a
broker gap is not physical, the car keeps charging; a projection may have to say "gap" when the
end fell inside one."""

_BAD_TOPIC = re.compile(r"[+#\x00\s]")


@dataclass(frozen=True)
class ChargerSpec:
    """One simulated charger: `name` is its MQTT base topic (its identity on the broker)."""

    name: str
    firmware: str

    def __post_init__(self) -> None:
        if not self.name or _BAD_TOPIC.search(self.name) or self.name.strip("/") != self.name:
            raise ValueError(f"{self.name!r} is not a usable MQTT base topic")
        if self.firmware not in FIRMWARES:
            raise ValueError(f"unknown firmware {self.firmware!r} (known: {', '.join(FIRMWARES)})")


@dataclass(frozen=True)
class SimulationSpec:
    """What to simulate. `start` is made UTC (a naive datetime is taken as UTC already).

    `idle_dump_interval` thins idle traffic: the seconds between full dumps while a charger is not
    charging. The default, 30, is what the firmware does; a larger value keeps long simulations
    small without touching what happens while charging.

    `telemetry_interval` thins charging traffic the same way: amp/voltage/power every that many
    seconds instead of 1, the counters every max(5, it), the dumps every max(30, it). The
    energy stays exact (the counters are cumulative); only the resolution of the curves drops.
    Keep both under the projector's 120 s gap threshold, or every silence looks like a gap.

    `divert_interval` turns solar divert on for the ESP32 chargers (3.x and newer): every that
    many seconds (the energy monitor's cadence; real ones send several a second) a
    `divert_update` event of ten topics under the charger's base, `grid_ie` signed, `voltage`
    tripled on a three-phase site. None (the default) leaves it off.
    """

    chargers: tuple[ChargerSpec, ...]
    start: datetime
    days: float
    seed: int = 1
    faults: frozenset[str] = field(default_factory=frozenset)
    idle_dump_interval: float = 30.0
    telemetry_interval: float = 1.0
    divert_interval: float | None = None

    def __post_init__(self) -> None:
        chargers = tuple(self.chargers)
        if not chargers:
            raise ValueError("a simulation needs at least one charger")
        names = [c.name for c in chargers]
        if len(set(names)) != len(names):
            raise ValueError(f"charger names (base topics) must differ: {names}")
        start = self.start
        start = start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)
        faults = frozenset(self.faults)
        unknown = sorted(faults - set(FAULTS))
        if unknown:
            raise ValueError(f"unknown fault(s) {unknown} (known: {', '.join(FAULTS)})")
        if not 0 < self.days <= 3660:
            raise ValueError(f"days must be in (0, 3660], not {self.days}")
        if not 30.0 <= self.idle_dump_interval <= 86400.0:
            raise ValueError("idle_dump_interval must be between 30 and 86400 seconds")
        if not 1.0 <= self.telemetry_interval <= 110.0:
            raise ValueError("telemetry_interval must be between 1 and 110 seconds")
        if self.divert_interval is not None and not 0.1 <= self.divert_interval <= 3600.0:
            raise ValueError("divert_interval must be between 0.1 and 3600 seconds")
        object.__setattr__(self, "chargers", chargers)
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "faults", faults)

    @property
    def start_ts(self) -> float:
        return self.start.timestamp()

    @property
    def end_ts(self) -> float:
        return self.start.timestamp() + self.days * 86400.0


@dataclass(frozen=True, slots=True)
class SimMessage:
    """One message as the recorder would receive it: receive time, topic, payload, retain flag.

    `retained` is the flag the subscriber sees: True only for the stale values a (re)connecting
    subscriber is handed by the broker ("retained" fault); live messages are False even when the
    charger published them with retain set (as the announce), as MQTT forwards them.
    """

    ts: float
    topic: str
    payload: bytes
    retained: bool = False

    def line(self) -> bytes:
        """The import-file line (`chargelog import`), without the newline."""
        return b"%.6f %s %s" % (self.ts, self.topic.encode(), self.payload)


@dataclass(frozen=True)
class TrueCycle:
    """A cycle as it physically happened: `energy_wh` is what went into the car.

    `ended_at` and `end_reason` are None when the car was still charging when the simulation ended.
    """

    started_at: float
    ended_at: float | None
    energy_wh: float
    end_reason: str | None


@dataclass(frozen=True)
class TruePlugin:
    """A plug-in as it physically happened; `unplugged_at` is None if still plugged at the end.

    With the "stale_unplug" fault the car leaves while the charger is off: `unplugged_at` is the
    real departure, which the journal cannot reveal (it only bounds it by the last message before
    the power cut and the boot after it).
    """

    charger: str
    plugged_at: float
    unplugged_at: float | None
    cycles: list[TrueCycle]

    @property
    def energy_wh(self) -> float:
        return sum(c.energy_wh for c in self.cycles)


@dataclass(frozen=True)
class Injected:
    """Where a requested fault was put, so a test can look at exactly that spot.

    `start`..`end` is the fault's window (equal for an instant, such as one junk message);
    `detail` says which variant (the state code, the junk payload, ...).
    """

    charger: str
    fault: str
    start: float
    end: float
    detail: str = ""


def parse_list(text: str, known: Iterable[str], what: str) -> list[str]:
    """A comma-separated list whose items must all be known names (for the CLI and tests)."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    known = tuple(known)
    for item in items:
        if item not in known:
            raise ValueError(f"unknown {what} {item!r} (known: {', '.join(known)})")
    return items


def parse_faults(text: str) -> frozenset[str]:
    """`all`, `none`, or a comma-separated list of fault names."""
    value = text.strip()
    if value == "all":
        return frozenset(FAULTS)
    if value in ("none", ""):
        return frozenset()
    return frozenset(parse_list(value, FAULTS, "fault"))
