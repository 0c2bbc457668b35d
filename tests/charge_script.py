"""A tiny script language for state-machine tests: say what physically happens (plug in, charge
at so many watts for so long, pause, lose power, unplug) and get the MQTT messages each firmware
generation would publish, with the true energy kept alongside."""

from __future__ import annotations

from dataclasses import dataclass, field

from projector.fleet import Fleet
from projector.machine import Changes

T0 = 1_767_261_600  # 2026-01-01 10:00 UTC
GENERATIONS = ("5.x", "4.1", "2.x", "2.x-lifetime")
# ESP32 WiFi 3.x (no `vehicle`) and 4.0 to 4.1.0: lifetime `wh` only, with `amp` (mA) and
# `voltage` in every dump (4.x: each 5 s while charging here, 1 s on the real thing).
NO_SESSION_COUNTER = ("3.x", "4.0")
VOLTS = 240.0


@dataclass
class Script:
    firmware: str = "5.x"
    charger: str = "openevse-ab12"
    t: float = float(T0)
    session_counter: float = 0.0  # what the firmware's session counter holds, in Wh
    lifetime: float = 100_000.0  # lifetime Wh
    saved_counter: float = 0.0  # last value saved to flash (4.1.9+: every 5 min while charging)
    messages: list[tuple[float, str, bytes, bool]] = field(default_factory=list)
    uptime: float = 1000.0
    car: bool = False

    # ---- raw sending ----------------------------------------------------------------------

    def send(self, key: str, payload: str | bytes, retained: bool = False) -> Script:
        data = payload.encode() if isinstance(payload, str) else payload
        self.messages.append((self.t, f"{self.charger}/{key}", data, retained))
        return self

    def wait(self, seconds: float) -> Script:
        self.t += seconds
        self.uptime += seconds
        return self

    @property
    def modern(self) -> bool:
        return self.firmware in ("5.x", "4.1")

    @property
    def lifetime_only(self) -> bool:
        return self.firmware in NO_SESSION_COUNTER

    @property
    def has_vehicle(self) -> bool:
        return self.modern or self.firmware == "4.0"

    def electrical(self, watts: float) -> Script:
        """`amp` and `voltage` as the 3.x/4.0 firmwares publish them."""
        if self.lifetime_only:
            self.send("amp", f"{watts / VOLTS * 1000:.0f}")
            self.send("voltage", f"{VOLTS:.0f}")
        return self

    def counters(self) -> Script:
        if self.modern:
            self.send("session_energy", f"{self.session_counter:.1f}")
            self.send("total_energy", f"{self.lifetime / 1000:.4f}")
        elif self.firmware == "2.x":
            self.send("wh", f"{self.session_counter * 3600:.0f}")
        else:
            self.send("wh", f"{self.lifetime:.0f}")
        return self

    def dump(self, state: int) -> Script:
        """The ~30 s full dump: repeats every value, unchanged ones included."""
        self.send("state", str(state))
        if self.has_vehicle:
            self.send("vehicle", "1" if self.car else "0")
        if self.modern:
            self.send("uptime", f"{self.uptime:.0f}")
        return self.electrical(0.0).counters()

    # ---- what happens ---------------------------------------------------------------------

    def plug(self, state: int = 2) -> Script:
        if self.firmware in ("4.1", "2.x"):
            self.session_counter = 0.0  # these reset at plug-in, silently
        self.car = True
        self.send("state", str(state))
        if self.has_vehicle:
            self.send("vehicle", "1")
        return self.wait(5)

    def state(self, state: int) -> Script:
        self.send("state", str(state))
        return self.wait(1)

    def charge(self, minutes: float, watts: float = 7200.0) -> Script:
        """Charging in state 3 (already entered): counters on the firmware's cadence."""
        step = 5.0 if self.modern or self.firmware == "4.0" else 30.0
        elapsed = 0.0
        while elapsed < minutes * 60:
            self.wait(step)
            elapsed += step
            energy = watts * step / 3600.0
            self.session_counter += energy
            if self.firmware != "2.x-lifetime" and not self.lifetime_only:
                self.lifetime += energy
            else:
                self._pending_lifetime = getattr(self, "_pending_lifetime", 0.0) + energy
            if self.modern:
                self.send("power", f"{watts:.0f}")
                if int(elapsed) % 300 == 0:
                    self.saved_counter = self.session_counter
            self.electrical(watts).counters()
        return self

    def idle(self, minutes: float, state: int) -> Script:
        """Time passing with dumps every 30 s in a state."""
        for _ in range(int(minutes * 2)):
            self.wait(30)
            self.dump(state)
        return self

    def unplug(self) -> Script:
        self.car = False
        self.send("state", "1")
        if self.firmware == "2.x-lifetime" or self.lifetime_only:
            self.lifetime += getattr(self, "_pending_lifetime", 0.0)
            self._pending_lifetime = 0.0
        if self.has_vehicle:
            self.send("vehicle", "0")
        if self.firmware == "5.x":
            self.session_counter = 0.0
            self.send("session_energy", "0")
            self.send("session_elapsed", "0")
        self.wait(30)
        return self.dump(1)

    def power_loss(self, minutes: float) -> Script:
        """Power off mid-charge: silence, then a boot with counters back at the last flash save."""
        self.wait(minutes * 60)
        self.uptime = 3.0
        self.session_counter = self.saved_counter
        self.send("state", "0")
        self.send("uptime", "3")
        if self.modern:
            self.counters()  # the boot dump shows the restored counter
        return self.wait(2)


def run(
    messages: list[tuple[float, str, bytes, bool]],
    split: int | None = None,
    in_order: bool = False,
) -> Changes:
    """Feed the machine (optionally checkpointing through JSON at `split`); all records. The
    messages go in by receive time, or `in_order` as listed (the journal's order when the
    recorder's clock jumps)."""
    fleet = Fleet()
    everything = Changes()
    ordered = messages if in_order else sorted(messages, key=lambda m: m[0])
    for index, (t, topic, payload, retained) in enumerate(ordered):
        if split is not None and index == split:
            _collect(everything, fleet)
            fleet = Fleet.from_json(fleet.to_json())
        fleet.feed(index + 1, round(t * 1_000_000), topic, payload, retained)
    _collect(everything, fleet)
    return everything


def fed(messages: list[tuple[float, str, bytes, bool]]) -> Fleet:
    """A fleet that has read the messages in receive-time order (its records not drained)."""
    fleet = Fleet()
    for index, (t, topic, payload, retained) in enumerate(sorted(messages, key=lambda m: m[0])):
        fleet.feed(index + 1, round(t * 1_000_000), topic, payload, retained)
    return fleet


def _collect(into: Changes, fleet: Fleet) -> None:
    changes = fleet.drain()
    into.cycles.update(changes.cycles)
    into.plugins.update(changes.plugins)


def summary(changes: Changes) -> list[tuple[str, float, list[tuple[float, str | None]]]]:
    """Per plug-in session: (charger, Wh, [(cycle Wh, end reason)]), rounded to 0.1 Wh."""
    out = []
    for plugin in sorted(changes.plugins.values(), key=lambda p: (p.plugged_at, p.id)):
        cycles = sorted(
            (c for c in changes.cycles.values() if c.plugin_id == plugin.id), key=lambda c: c.id
        )
        out.append(
            (
                plugin.charger,
                round(plugin.energy_wh, 1),
                [(round(c.energy_wh, 1), c.end_reason) for c in cycles],
            )
        )
    return out
