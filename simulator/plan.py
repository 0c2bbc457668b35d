"""Planning a simulation: when cars come and go, what each charge physically does, and what each
firmware's counters hold at any moment.

Everything is decided here, before a single message is rendered, so the ground truth is exact
and cheap to get, and rendering can stream: a charger's life is a list of phases (a state held
with a current that changes linearly), and every counter is a closed-form function of time over
that list.

Physics: the voltage is constant per charger; the current is constant at full power, then falls
linearly to ~6 A over the last 10-30 minutes of a charge (the taper). The energy of a cycle is the
exact integral of volts x amps over its phases.

Firmware counters (assumptions where docs/openevse-mqtt.md says "unverified"):
- 2.x, 2.x-lifetime and 4.1 keep the session counter in the controller's RAM: it restarts at 0 at
  every plug-in and at every boot; a lifetime `wh` grows by that counter at an unplug the charger
  saw, so an unplug while it was off, or the part before a power loss, never reaches it.
- 5.x integrates in the WiFi module, saves to flash every 5 minutes of charging and when charging
  stops, and restarts from the last save: a power loss mid-charge rolls `session_energy` and
  `total_energy` back by the energy since that save. It resets the session counter only at an
  unplug it saw, so after an unplug while off the old value carries into the next plug-in.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from dataclasses import dataclass, field

from simulator.model import ChargerSpec, Injected, SimulationSpec, TrueCycle, TruePlugin

OFF = -1  # powered off: the charger publishes nothing
CHARGING = 3
MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0
SAVE_EVERY = 300.0  # 5.x saves its counters to flash every 5 minutes while charging
PRIOR_WH_PER_S = 8000.0 / DAY  # consumption assumed before the simulation, for total_week etc.
CONTROLLER_SESSION = ("2.x", "2.x-lifetime", "3.x", "4.0", "4.1")
LIFETIME_WH = ("2.x-lifetime", "3.x", "4.0", "4.1")
PLUGIN_FAULTS = ("start_sleeping", "pause", "fault", "reboot", "gap", "stale_unplug")
RANDOM_FAULT_P = 0.12  # chance of each requested fault on a charging plug-in after the first
# How a run of state 3 ended, by the state that followed it (anything else is a fault code).
_REASONS = {
    1: "unplugged",
    2: "stopped",
    254: "paused",
    255: "disabled",
    OFF: "reboot",
    0: "reboot",
}


@dataclass(frozen=True, slots=True)
class Phase:
    """A state held from `start` to `end`; `e0`/`c0`: energy (Wh) and charging seconds since the
    simulation start, at `start`."""

    start: float
    end: float
    state: int
    plugged: bool
    volts: float
    a0: float
    a1: float
    e0: float
    c0: float

    def amps(self, t: float) -> float:
        if self.a0 == self.a1:
            return self.a0
        return self.a0 + (self.a1 - self.a0) * (t - self.start) / (self.end - self.start)

    def energy(self, t: float) -> float:
        """Wh delivered from `start` to `t` (exact for the linear current)."""
        if not self.a0 and not self.a1:
            return 0.0
        dt = t - self.start
        slope = (self.a1 - self.a0) / (self.end - self.start)
        return self.volts * (self.a0 * dt + slope * dt * dt / 2.0) / HOUR

    @property
    def vehicle(self) -> int:
        """The published `vehicle` flag: unreliable (0) while disabled (docs/openevse-mqtt.md)."""
        return 1 if self.plugged and self.state != 255 else 0


@dataclass
class Seg:
    """A planned step of a plug-in, before it is laid on the timeline."""

    state: int
    duration: float
    a0: float = 0.0
    a1: float | None = None
    fault: str = ""
    detail: str = ""
    gap: tuple[float, float] | None = None  # (offset, length) of a broker gap inside it


class Timeline:
    """Phases laid end to end from the simulation start, clipped at its end."""

    def __init__(self, start: float, end: float, volts: float) -> None:
        self.end = end
        self.volts = volts
        self.phases: list[Phase] = []
        self.now = start
        self.energy = 0.0
        self.charging = 0.0

    def add(
        self,
        state: int,
        until: float,
        plugged: bool,
        a0: float = 0.0,
        a1: float | None = None,
        limit: float | None = None,
    ) -> Phase | None:
        """Hold `state` until `until`, cut at `limit` and at the end; a cut ramp stops where it
        had got to."""
        a1 = a0 if a1 is None else a1
        stop = min(until, self.end, self.end if limit is None else limit)
        if stop <= self.now:
            return None
        if stop < until and a1 != a0:
            a1 = a0 + (a1 - a0) * (stop - self.now) / (until - self.now)
        phase = Phase(
            self.now, stop, state, plugged, self.volts, a0, a1, self.energy, self.charging
        )
        self.phases.append(phase)
        self.energy += phase.energy(stop)
        if state == CHARGING:
            self.charging += stop - self.now
        self.now = stop
        return phase


@dataclass
class ChargerPlan:
    """One charger's whole life in the simulation, and its counters as functions of time."""

    charger: ChargerSpec
    index: int
    start: float
    end: float
    volts: float
    phases: list[Phase] = field(default_factory=list)
    plugins: list[TruePlugin] = field(default_factory=list)
    injected: list[Injected] = field(default_factory=list)
    gaps: list[tuple[float, float]] = field(default_factory=list)
    boots: list[float] = field(default_factory=list)
    events: list[tuple[float, str]] = field(default_factory=list)  # (time, plugin/unplug)
    total0_wh: float = 0.0
    _starts: list[float] = field(default_factory=list)
    _sess_t: list[float] = field(default_factory=list)
    _sess_ref: list[tuple[float, float]] = field(default_factory=list)
    _lost_t: list[float] = field(default_factory=list)
    _lost: list[float] = field(default_factory=list)
    _life_t: list[float] = field(default_factory=list)
    _life: list[float] = field(default_factory=list)

    @property
    def firmware(self) -> str:
        return self.charger.firmware

    # ---- lookups --------------------------------------------------------------------------

    def phase_index(self, t: float) -> int:
        return min(max(bisect_right(self._starts, t) - 1, 0), len(self.phases) - 1)

    def phase_at(self, t: float) -> Phase:
        return self.phases[self.phase_index(t)]

    def energy_at(self, t: float) -> float:
        """Physical Wh delivered since the simulation start."""
        if t <= self.start:
            return 0.0
        phase = self.phase_at(t)
        return phase.e0 + phase.energy(min(t, phase.end))

    def charging_at(self, t: float) -> float:
        if t <= self.start:
            return 0.0
        phase = self.phase_at(t)
        return phase.c0 + (min(t, phase.end) - phase.start if phase.state == CHARGING else 0.0)

    def session(self, t: float) -> tuple[float, float]:
        """(Wh, charging seconds) the firmware's session counter shows at `t`."""
        ref_e, ref_c = self._sess_ref[bisect_right(self._sess_t, t) - 1]
        return max(self.energy_at(t) - ref_e, 0.0), max(self.charging_at(t) - ref_c, 0.0)

    def total_wh(self, t: float) -> float:
        """The lifetime counter (`total_energy` x 1000), with 5.x rollbacks."""
        if t < self.start:
            return self.total0_wh - PRIOR_WH_PER_S * (self.start - t)
        return self.total0_wh + self.energy_at(t) - self._lost[bisect_right(self._lost_t, t) - 1]

    def lifetime_wh(self, t: float) -> float:
        """The lifetime `wh` of 2.x-lifetime and 4.1: grows only at a seen unplug."""
        return self._life[bisect_right(self._life_t, t) - 1]

    def uptime(self, t: float) -> float:
        return t - self.boots[bisect_right(self.boots, t) - 1]

    def charging_runs(self) -> list[tuple[int, int]]:
        """(first, last) phase indexes of each maximal run of state 3."""
        runs: list[tuple[int, int]] = []
        first = None
        for i, phase in enumerate(self.phases):
            if phase.state == CHARGING and first is None:
                first = i
            elif phase.state != CHARGING and first is not None:
                runs.append((first, i - 1))
                first = None
        if first is not None:
            runs.append((first, len(self.phases) - 1))
        return runs


class Planner:
    """Plans one charger: plug-ins day by day, each one's charge, the requested faults."""

    def __init__(self, spec: SimulationSpec, charger: ChargerSpec, index: int) -> None:
        self.spec = spec
        self.rng = random.Random(f"plan/{spec.seed}/{index}/{charger.name}")
        rng = self.rng
        self.plan = ChargerPlan(charger, index, spec.start_ts, spec.end_ts, rng.uniform(236, 242))
        self.tl = Timeline(spec.start_ts, spec.end_ts, self.plan.volts)
        self.wanted = [f for f in PLUGIN_FAULTS if f in spec.faults]
        self.forced_done = False
        self.forcing = False  # laying out the plug-in that carries every requested fault
        self.reboots: list[tuple[float, float]] = []  # (power lost, power back) mid-charge

    def run(self) -> ChargerPlan:
        plan, rng = self.plan, self.rng
        plan.boots.append(plan.start - rng.uniform(1, 40) * DAY)
        free = plan.start
        day = plan.start - plan.start % DAY
        while day < plan.end:
            weekend = (int(day // DAY) + 3) % 7 >= 5  # 1970-01-01 was a Thursday
            slots: list[tuple[str, float]] = []
            if rng.random() < (0.45 if weekend else 0.25):
                slots.append(("day", day + rng.uniform(8.5, 14.5) * HOUR))
            if not self.forced_done or rng.random() < (0.6 if weekend else 0.8):
                slots.append(("evening", day + rng.uniform(17, 21) * HOUR))
            for kind, arrival in slots:
                if not self.forced_done and kind == "evening" and arrival < plan.start + 600:
                    arrival = plan.start + rng.uniform(0.5, 2) * HOUR
                if arrival < free + 20 * MINUTE or arrival >= plan.end:
                    continue
                if kind == "day":
                    departure = arrival + rng.uniform(1, 5) * HOUR
                else:
                    departure = day + DAY + rng.uniform(6.5, 8.75) * HOUR
                    departure += rng.uniform(0, 3) * HOUR if weekend else 0.0
                free = self._plugin(kind, arrival, departure)
            day += DAY
        self.tl.add(1, plan.end, False)
        plan.phases = self.tl.phases
        plan._starts = [p.start for p in plan.phases]
        self._counters()
        self._truth()
        plan.injected.sort(key=lambda i: (i.start, i.fault))
        return plan

    # ---- one plug-in ----------------------------------------------------------------------

    def _tags(self, charges: bool) -> set[str]:
        self.forcing = charges and not self.forced_done
        if self.forcing:
            self.forced_done = True
            return set(self.wanted)  # every requested fault shows at least once per charger
        if not charges:
            return set()
        return {f for f in self.wanted if self.rng.random() < RANDOM_FAULT_P}

    def _plugin(self, kind: str, arrival: float, departure: float) -> float:
        """Lay one plug-in on the timeline; returns when the charger is free for the next."""
        rng, tl, plan = self.rng, self.tl, self.plan
        charges = not (self.forced_done and rng.random() < 0.1)
        tags = self._tags(charges)
        segs: list[Seg] = []
        if charges:
            if "start_sleeping" in tags:
                segs.append(Seg(254, rng.uniform(1, 4) * HOUR, fault="start_sleeping"))
            else:
                segs.append(Seg(2, rng.uniform(3, 20)))
            high, mode = (40000.0, 12000.0) if kind == "evening" else (25000.0, 7000.0)
            need = rng.triangular(3000.0, high, mode)
            if tags & {"pause", "fault", "reboot", "gap"}:
                need = max(need, rng.uniform(14000.0, 22000.0))
            segs += self._charge(need, tags)
        planned = sum(s.duration for s in segs)
        if tags:  # the faults need the charge to happen before the car leaves
            departure = max(departure, arrival + planned + rng.uniform(20, 90) * MINUTE)
        tl.add(1, arrival, False)
        if tl.now >= plan.end:
            return plan.end
        self.plan.events.append((arrival, "plugin"))
        for seg in segs:
            phase = tl.add(seg.state, tl.now + seg.duration, True, seg.a0, seg.a1, departure)
            if phase is None:
                break
            self._note(seg, phase)
        stale = "stale_unplug" in tags and departure < plan.end
        if charges and kind == "evening" and not stale and rng.random() < 0.25:
            self._precondition(departure)
        cycles: list[TrueCycle] = []  # filled by _truth
        unplugged = departure if departure < plan.end else None
        plan.plugins.append(TruePlugin(plan.charger.name, arrival, unplugged, cycles))
        if stale:
            return self._unplug_while_off(departure)
        tl.add(2, departure, True)
        if departure < plan.end:
            plan.events.append((departure, "unplug"))
        return departure

    def _charge(self, need: float, tags: set[str]) -> list[Seg]:
        """Full power with the requested interruptions spread through it, then the taper."""
        rng, volts = self.rng, self.plan.volts
        imax = rng.uniform(25.5, 30.5)  # 6.0-7.4 kW at 236-242 V
        iend = rng.uniform(5.5, 7.0)
        taper = rng.uniform(10, 30) * MINUTE
        e_taper = volts * (imax + iend) / 2.0 * taper / HOUR
        if e_taper > 0.6 * need:
            taper *= 0.6 * need / e_taper
            e_taper = 0.6 * need
        full = (need - e_taper) * HOUR / (volts * imax)
        breaks: list[str] = []
        if "pause" in tags:
            breaks.append("sleep")
            if self.forcing or rng.random() < 0.5:
                breaks.append("disable")
        breaks += [b for b in ("fault", "reboot") if b in tags]
        rng.shuffle(breaks)
        k = len(breaks)
        cuts = [full * (i + rng.uniform(0.35, 0.65)) / k for i in range(k)] if k else []
        segs: list[Seg] = []
        chunks: list[Seg] = []
        done = 0.0
        for cut, kind in zip([*cuts, full], [*breaks, ""], strict=True):
            chunk = Seg(CHARGING, cut - done, imax)
            chunks.append(chunk)
            segs.append(chunk)
            segs += self._interruption(kind)
            done = cut
        segs.append(Seg(CHARGING, taper, imax, iend))
        if "gap" in tags:
            chunk = max(chunks, key=lambda s: s.duration)
            length = min(rng.uniform(2, 10) * MINUTE, chunk.duration - 4 * MINUTE)
            if length >= MINUTE:
                offset = rng.uniform(2 * MINUTE, chunk.duration - 2 * MINUTE - length)
                chunk.gap = (offset, length)
        return segs

    def _interruption(self, kind: str) -> list[Seg]:
        rng = self.rng
        if kind == "sleep":
            return [Seg(254, rng.uniform(10, 60) * MINUTE, fault="pause", detail="254")]
        if kind == "disable":
            return [Seg(255, rng.uniform(10, 40) * MINUTE, fault="pause", detail="255")]
        if kind == "fault":
            return [
                Seg(6, rng.uniform(1, 15) * MINUTE, fault="fault", detail="6"),
                Seg(2, rng.uniform(5, 30)),
            ]
        if kind == "reboot":
            return [
                Seg(OFF, rng.uniform(2, 10) * MINUTE, fault="reboot"),
                Seg(0, rng.uniform(4, 10)),
                Seg(2, rng.uniform(3, 10)),
            ]
        return []

    def _note(self, seg: Seg, phase: Phase) -> None:
        plan = self.plan
        name = plan.charger.name
        if seg.state == OFF:
            self.reboots.append((phase.start, phase.end))
            plan.boots.append(phase.end)
            plan.injected.append(Injected(name, "reboot", phase.start, phase.end))
        elif seg.fault:
            plan.injected.append(Injected(name, seg.fault, phase.start, phase.end, seg.detail))
        if seg.gap is not None:
            g0 = phase.start + seg.gap[0]
            g1 = g0 + seg.gap[1]
            if g1 < phase.end:
                plan.gaps.append((g0, g1))
                plan.injected.append(Injected(name, "gap", g0, g1))

    def _precondition(self, departure: float) -> None:
        """A short top-up before leaving (cabin heating): a second cycle at 14-20 A."""
        rng, tl = self.rng, self.tl
        length = rng.uniform(10, 25) * MINUTE
        begin = departure - rng.uniform(20, 40) * MINUTE - length
        if begin > tl.now + 30 * MINUTE:
            tl.add(2, begin, True)
            tl.add(CHARGING, begin + length, True, rng.uniform(14, 20), limit=departure)

    def _unplug_while_off(self, departure: float) -> float:
        """The charger is off while the car leaves: no unplug is ever published."""
        rng, tl, plan = self.rng, self.tl, self.plan
        off = max(departure - rng.uniform(5, 45) * MINUTE, tl.now + 2 * MINUTE)
        back = departure + rng.uniform(3, 15) * MINUTE
        tl.add(2, off, True)
        tl.add(OFF, departure, True)
        tl.add(OFF, back, False)
        if back < plan.end:
            plan.boots.append(back)
        tl.add(0, back + rng.uniform(4, 10), False)
        plan.injected.append(Injected(plan.charger.name, "stale_unplug", off, back))
        return back

    # ---- counters and truth ------------------------------------------------------------------

    def _counters(self) -> None:
        """The firmware's session, lifetime and `wh` counters as step changes over time."""
        plan, rng = self.plan, self.rng
        fw = plan.firmware
        plan.total0_wh = rng.uniform(300, 15000) * 1000.0
        sess_t, sess = [float("-inf")], [(0.0, 0.0)]
        if fw in CONTROLLER_SESSION:  # still showing the session before the simulation
            previous = rng.uniform(2000, 25000)
            sess = [(-previous, -previous * HOUR / 7000.0)]
        lost_t, lost = [float("-inf")], [0.0]
        life_t, life = [float("-inf")], [float(int(plan.total0_wh * rng.uniform(0.9, 0.98)))]
        events = list(plan.events)
        events += [(back, "reboot") for _, back in self.reboots]
        events += [(i.end, "boot") for i in plan.injected if i.fault == "stale_unplug"]
        lost_at = dict((back, off) for off, back in self.reboots)
        for t, kind in sorted(events):
            ref = sess[-1]
            if kind == "unplug" and fw in LIFETIME_WH:
                life_t.append(t)
                life.append(life[-1] + round(plan.energy_at(t) - ref[0]))
            if (kind == "unplug" and fw == "5.x") or (
                kind in ("plugin", "reboot", "boot") and fw in CONTROLLER_SESSION
            ):  # the firmware's reset to 0
                sess_t.append(t)
                sess.append((plan.energy_at(t), plan.charging_at(t)))
            elif kind == "reboot" and fw == "5.x":
                off = lost_at[t]
                saved = self._last_save(off)
                e_lost = plan.energy_at(off) - plan.energy_at(saved)
                sess_t.append(t)
                sess.append((ref[0] + e_lost, ref[1] + off - saved))
                lost_t.append(t)
                lost.append(lost[-1] + e_lost)
        plan._sess_t, plan._sess_ref = sess_t, sess
        plan._lost_t, plan._lost = lost_t, lost
        plan._life_t, plan._life = life_t, life

    def _last_save(self, off: float) -> float:
        """5.x saved at the start of the charging run and every 5 minutes into it."""
        plan = self.plan
        i = plan.phase_index(off - 1e-6)
        while i > 0 and plan.phases[i - 1].state == CHARGING:
            i -= 1
        begin = plan.phases[i].start
        return begin + (off - begin) // SAVE_EVERY * SAVE_EVERY

    def _truth(self) -> None:
        """Cycles from the phases: each run of state 3, ended by whatever state came next."""
        plan = self.plan
        starts = [p.plugged_at for p in plan.plugins]
        for first, last in plan.charging_runs():
            begin, stop = plan.phases[first].start, plan.phases[last].end
            energy = plan.energy_at(stop) - plan.energy_at(begin)
            if last + 1 < len(plan.phases):
                reason: str | None = _REASONS.get(plan.phases[last + 1].state, "fault")
                ended: float | None = stop
            else:
                reason, ended = None, None
            owner = plan.plugins[bisect_right(starts, begin) - 1]
            owner.cycles.append(TrueCycle(begin, ended, energy, reason))


def plan_charger(spec: SimulationSpec, charger: ChargerSpec, index: int) -> ChargerPlan:
    return Planner(spec, charger, index).run()
