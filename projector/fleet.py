"""All chargers' machines together: routes journal entries and holds the checkpointable state."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from projector.machine import GAP_US, Changes, ChargerMachine
from projector.money.pricing import Pricer
from projector.readings import (
    ANNOUNCE_PREFIX,
    ELECTRICAL_KEYS,
    NUMERIC_KEYS,
    TAG_KEYS,
    split_topic,
)

HOUR_US = 3600 * 1_000_000

INTEGER_KEYS = frozenset({"state", "vehicle"})
# The firmware's own spellings of a reading (`233.49`, `7950.783333`, `2.862282e7`, `3`): no sign
# (no projected reading is negative, and `-0` is no state), no padding, no `+`, no leading zeros;
# Python's float() would also take ` 3 `, `+3`, `1_000`, `007` and `-0`.
_READING = re.compile(rb"(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_INTEGER = re.compile(rb"0|[1-9][0-9]*")
MAX_ROUTES = 10_000  # distinct topics remembered; beyond it the cache starts over


class Fleet:
    """A deterministic fold over the journal: the same entries always give the same records."""

    def __init__(
        self, pricer: Pricer | None = None, names: Mapping[str, str] | None = None
    ) -> None:
        self.pricer = pricer
        # Base topic -> display name ([chargers]): a charger renamed or upgraded stays one.
        self.names = dict(names or {})
        self.changes = Changes()
        self.machines: dict[str, ChargerMachine] = {}
        # topic -> (machine, key), or None for a topic the projection does not read. Topics
        # repeat all day long: each is split and looked up once.
        self._routes: dict[str, tuple[ChargerMachine, str] | None] = {}
        self.last_any_at: int | None = None  # the newest message from any charger
        self.heard_since: int | None = None  # since when the recorder has heard without a gap

    def machine(self, name: str) -> ChargerMachine:
        machine = self.machines.get(name)
        if machine is None:
            machine = self.machines[name] = ChargerMachine(name, self.changes, self.pricer)
            self._routes.clear()  # its amp, voltage and rfid_auth topics route from now on
        return machine

    def _route(self, topic: str) -> tuple[ChargerMachine, str] | None:
        if len(self._routes) >= MAX_ROUTES:
            self._routes.clear()
        route = None
        parts = None if topic.startswith(ANNOUNCE_PREFIX) else split_topic(topic)
        if parts is not None and (parts[1] in ELECTRICAL_KEYS or parts[1] in TAG_KEYS):
            # Only for a charger already known by its other topics (another device's `amp` is
            # no charger; the routes start over when a charger appears).
            machine = self.machines.get(self.names.get(parts[0], parts[0]))
            route = None if machine is None else (machine, parts[1])
        elif parts is not None and parts[1] in NUMERIC_KEYS:
            route = (self.machine(self.names.get(parts[0], parts[0])), parts[1])
        self._routes[topic] = route
        return route

    def skipped_topics(self) -> frozenset[str]:
        """The amp and voltage topics of chargers that have a counter moving while charging:
        the replay need not read them (ChargerMachine.needs_power stays false once false, so
        reading them or not gives the same records)."""
        bases: dict[str, list[str]] = {}
        for base, name in self.names.items():
            bases.setdefault(name, []).append(base)
        return frozenset(
            f"{base}/{key}"
            for name, machine in self.machines.items()
            if not machine.needs_power
            for base in (bases.get(name, []) + ([] if name in self.names else [name]))
            for key in ELECTRICAL_KEYS
        )

    def feed(self, seq: int, t: int, topic: str, payload: bytes, retained: bool) -> None:
        """One journal entry; `t` is its receive time in microseconds."""
        try:
            route = self._routes[topic]
        except KeyError:
            route = self._route(topic)
        if route is None:
            return
        machine, key = route
        if key in ELECTRICAL_KEYS and (retained or not machine.needs_power):
            return  # (before any effect: whether the replay read it must not matter)
        if not retained:
            last = self.last_any_at
            if last is None or t - last > GAP_US:
                self.heard_since = t  # the recorder hears again: no charger was silent meanwhile
                if last is not None:
                    self.changes.gaps[last] = t  # nothing at all arrived: the recorder's gap
            if last is None or t > last:
                self.last_any_at = t
                if last is not None and t // HOUR_US > last // HOUR_US:
                    # Once an hour of the stream's own time: bases silent for good end their
                    # plug-ins (a function of the journal alone, whatever the passes' cuts).
                    for other in self.machines.values():
                        other.end_if_gone(t, self.heard_since or t)
        if key in TAG_KEYS:
            machine.feed_tag(seq, t, payload, retained)
            return
        spelling = _INTEGER if key in INTEGER_KEYS else _READING
        if spelling.fullmatch(payload) is None:
            machine.bad(t)  # not a reading in the firmware's own spelling
            return
        value = float(payload)
        if not value < math.inf:
            machine.bad(t)  # 1e999
            return
        machine.feed(seq, t, key, value, retained)

    def drain(self) -> Changes:
        """The records touched since the last drain."""
        changes = Changes(
            dict(self.changes.cycles),
            dict(self.changes.plugins),
            dict(self.changes.gaps),
            dict(self.changes.ledger),
        )
        self.changes.cycles.clear()
        self.changes.plugins.clear()
        self.changes.gaps.clear()
        self.changes.ledger.clear()
        return changes

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "machines": {name: m.to_state() for name, m in sorted(self.machines.items())},
            "last_any_at": self.last_any_at,
            "heard_since": self.heard_since,
            "pricing": self.pricer.fingerprint if self.pricer is not None else None,
            "names": dict(sorted(self.names.items())),
        }
        return json.dumps(data, separators=(",", ":"), sort_keys=True)

    @staticmethod
    def pricing_of(text: str | None) -> str | None:
        """The tariffs' fingerprint a checkpointed state was priced with."""
        return json.loads(text).get("pricing") if text else None

    @staticmethod
    def names_of(text: str | None) -> dict[str, str]:
        """The [chargers] display names a checkpointed state was projected with."""
        return dict(json.loads(text).get("names") or {}) if text else {}

    @classmethod
    def from_json(
        cls, text: str | None, pricer: Pricer | None = None, names: Mapping[str, str] | None = None
    ) -> Fleet:
        fleet = cls(pricer, names)
        if not text:
            return fleet
        data = json.loads(text)
        for name, state in data["machines"].items():
            fleet.machines[name] = ChargerMachine.from_state(name, state, fleet.changes, pricer)
        fleet.last_any_at = data.get("last_any_at")
        fleet.heard_since = data.get("heard_since")
        return fleet
