"""All chargers' machines together: routes journal entries and holds the checkpointable state."""

from __future__ import annotations

import json
from typing import Any

from projector.machine import Changes, ChargerMachine
from projector.readings import BadValue, Reading, read


class Fleet:
    """A deterministic fold over the journal: the same entries always give the same records."""

    def __init__(self) -> None:
        self.changes = Changes()
        self.machines: dict[str, ChargerMachine] = {}

    def machine(self, name: str) -> ChargerMachine:
        machine = self.machines.get(name)
        if machine is None:
            machine = self.machines[name] = ChargerMachine(name, self.changes)
        return machine

    def feed(self, seq: int, t: int, topic: str, payload: bytes, retained: bool) -> None:
        """One journal entry; `t` is its receive time in microseconds."""
        reading = read(topic, payload)
        if reading is None:
            return
        if isinstance(reading, Reading):
            self.machine(reading.charger).feed(seq, t, reading.key, reading.value, retained)
        elif isinstance(reading, BadValue):
            self.machine(reading.charger).bad(t)

    def drain(self) -> Changes:
        """The records touched since the last drain."""
        changes = Changes(dict(self.changes.cycles), dict(self.changes.plugins))
        self.changes.cycles.clear()
        self.changes.plugins.clear()
        return changes

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "machines": {name: m.to_state() for name, m in sorted(self.machines.items())},
        }
        return json.dumps(data, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> Fleet:
        fleet = cls()
        if not text:
            return fleet
        data = json.loads(text)
        for name, state in data["machines"].items():
            fleet.machines[name] = ChargerMachine.from_state(name, state, fleet.changes)
        return fleet
