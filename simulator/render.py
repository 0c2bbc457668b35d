"""Rendering a planned charger as the messages its firmware publishes, lazily and in time order.

Three generators follow the firmware's cadence (the ~30 s dump, and while charging on 4.1/5.x
the 1 s power values and the 5 s counters); everything rarer (state changes, boots, last wills,
junk, retained replays) is a small list built up front. heapq.merge interleaves them, and a broker
gap drops whatever falls inside it, so memory stays flat however long the simulation.
"""

from __future__ import annotations

import heapq
import json
import math
import random
import re
import time
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from operator import attrgetter

from simulator.model import Injected, SimMessage, SimulationSpec
from simulator.plan import CHARGING, DAY, MINUTE, OFF, ChargerPlan, Phase

STEP = 0.0005  # seconds between the messages of one burst as the recorder receives them
BURST = 0.05  # a dump is shifted so that it never straddles a state change
DUMP_EVERY = 30.0
WILL_DELAY = 90.0  # the broker publishes the last will 1.5 keep-alives (60 s) after a silence
PILOT = b"32"
JUNK = (b"abc", b"", b"NaN", b"-1", b"1e308", b'{"value":1}', b"false")
MODERN = ("4.1", "5.x")
_BY_TS = attrgetter("ts")
_ID = re.compile(r"^(.*)-([0-9a-f]{4})$")


def announce_topic(name: str) -> tuple[str, str]:
    """(`<prefix>/announce/<id4>`, id4) for base topic `name`: `openevse-ab12` announces on
    `openevse/announce/ab12`; a base without a 4-hex suffix gets an id derived from its name."""
    match = _ID.match(name)
    if match:
        return f"{match[1]}/announce/{match[2]}", match[2]
    id4 = f"{random.Random(f'id4/{name}').getrandbits(16):04x}"
    return f"openevse/announce/{id4}", id4


def _num(value: float, places: int) -> bytes:
    text = f"{max(value, 0.0):.{places}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.encode()


class Renderer:
    """The messages of one charger; `extras` and `injected` are built at construction."""

    def __init__(self, plan: ChargerPlan, spec: SimulationSpec) -> None:
        self.plan = plan
        self.spec = spec
        self.fw = plan.firmware
        self.modern = self.fw in MODERN
        base = plan.charger.name
        self.base = base
        self.topic: dict[str, str] = {}
        self.seed = f"{spec.seed}/{plan.index}/{base}"
        rng = random.Random(f"decor/{self.seed}")
        self.tick = rng.uniform(0.0, 1.0)  # where the 1 s and 5 s ticks fall within a second
        self.temp_base = rng.uniform(220, 320)
        self.announce, id4 = announce_topic(base)
        self.ident = {
            "id": f"{rng.getrandbits(24):06x}{id4}",
            "name": base,
            "mqtt": base,
            "http": f"http://192.168.1.{rng.randint(20, 250)}/",
        }
        self._periods: tuple[int, tuple[float, ...]] = (-1, ())
        self.injected: list[Injected] = []
        self.dup_times: list[float] = []
        self.runs = [(plan.phases[a].start, plan.phases[b].end) for a, b in plan.charging_runs()]
        extras: list[SimMessage] = []
        self._transitions(extras, rng)
        faults = spec.faults
        if "retained" in faults:
            self._retained(extras, rng)
        if "junk" in faults:
            self._junk(extras, rng)
        if "duplicates" in faults:
            self._duplicates(rng)
        extras.sort(key=_BY_TS)
        self.extras = extras

    # ---- helpers ------------------------------------------------------------------------------

    def _topic(self, key: str) -> str:
        topic = self.topic.get(key)
        if topic is None:
            topic = self.topic[key] = f"{self.base}/{key}"
        return topic

    def burst(
        self, at: float, items: Iterable[tuple[str, bytes]], retained: bool = False
    ) -> list[SimMessage]:
        """Messages received one after another from `at`; a key with '/' is a full topic."""
        topic = self._topic
        return [
            SimMessage(round(at + i * STEP, 6), key if "/" in key else topic(key), data, retained)
            for i, (key, data) in enumerate(items)
        ]

    def _announce(self, state: str) -> bytes:
        return json.dumps({"state": state, **self.ident}, separators=(",", ":")).encode()

    def _config(self) -> bytes:
        version = "5.1.2" if self.fw == "5.x" else "4.1.5"
        doc = {"firmware": "7.1.3", "version": version, "hostname": self.base, "mqtt_retained": 0}
        return json.dumps(doc, separators=(",", ":")).encode()

    def _counter_items(self, at: float, first: int = 0) -> list[tuple[str, bytes]]:
        """The 5 s set of 4.1/5.x (session and lifetime counters), as a burst's items from
        position `first`: each value is read at its own message's time, so that interleaved
        bursts (a dump and a 5 s set) never show a counter going down."""
        plan = self.plan
        when = [round(at + (first + i) * STEP, 6) for i in range(7)]
        energy = plan.session(when[0])[0]
        elapsed = plan.session(when[1])[1]
        total, day, week, month, year = (plan.total_wh(t) for t in when[2:])
        starts = self._period_starts(at)
        return [
            ("session_energy", _num(energy, 2)),
            ("session_elapsed", b"%d" % elapsed),
            ("total_energy", _num(total / 1000.0, 6)),
            ("total_day", _num((day - starts[0]) / 1000.0, 6)),
            ("total_week", _num((week - starts[1]) / 1000.0, 6)),
            ("total_month", _num((month - starts[2]) / 1000.0, 6)),
            ("total_year", _num((year - starts[3]) / 1000.0, 6)),
        ]

    def _period_starts(self, t: float) -> tuple[float, ...]:
        """The lifetime counter at the start of t's UTC day, week, month and year (cached)."""
        number = int(t // DAY)
        if self._periods[0] != number:
            day = datetime.fromtimestamp(number * DAY, UTC)
            starts = (
                number * DAY,
                (number - day.weekday()) * DAY,
                day.replace(day=1).timestamp(),
                day.replace(month=1, day=1).timestamp(),
            )
            self._periods = (number, tuple(self.plan.total_wh(s) for s in starts))
        return self._periods[1]

    def _wh(self, t: float) -> bytes:
        """The 2.x `wh`: session watt-seconds, or lifetime Wh from 2.7.6 on (and on 4.1)."""
        if self.fw == "2.x":
            return b"%d" % round(self.plan.session(t)[0] * 3600.0)
        return b"%d" % self.plan.lifetime_wh(t)

    # ---- the rare messages, built up front ---------------------------------------------------

    def _transitions(self, out: list[SimMessage], rng: random.Random) -> None:
        phases = self.plan.phases
        for i in range(1, len(phases)):
            prev, phase = phases[i - 1], phases[i]
            at = phase.start
            if phase.state == OFF:
                if prev.state != OFF:
                    back = next((p.start for p in phases[i:] if p.state != OFF), self.plan.end)
                    if at + WILL_DELAY < back:
                        out += self._will(at + WILL_DELAY)
            elif prev.state == OFF:
                out += self._boot(at, phase)
            else:
                out += self._change(at, prev, phase)
        if self.modern:
            hello = [(self.announce, self._announce("connected"))]
            for _, g1 in self.plan.gaps:  # the link is back: the charger reconnects and announces
                out += self.burst(g1 + rng.uniform(0.5, 3.0), hello)

    def _will(self, at: float) -> list[SimMessage]:
        if self.modern:
            return self.burst(at, [(self.announce, self._announce("disconnected"))])
        return [SimMessage(round(at, 6), self.base, b"disconnected")]

    def _boot(self, at: float, phase: Phase) -> list[SimMessage]:
        items: list[tuple[str, bytes]] = []
        if self.modern:
            items += [(self.announce, self._announce("connected")), ("config", self._config())]
        items.append(("state", b"%d" % phase.state))
        if self.modern:
            items.append(("vehicle", b"%d" % phase.vehicle))
        return self.burst(at, items)

    def _change(self, at: float, prev: Phase, phase: Phase) -> list[SimMessage]:
        items: list[tuple[str, bytes]] = []
        if phase.state != prev.state:
            items.append(("state", b"%d" % phase.state))
        if not self.modern:
            return self.burst(at, items)
        if phase.vehicle != prev.vehicle:
            items.append(("vehicle", b"%d" % phase.vehicle))
        if prev.state == CHARGING and phase.state != CHARGING:
            items += [("amp", b"0"), ("power", b"0")]
        if phase.plugged and not prev.plugged:
            items += [("amp", b"0"), ("pilot", PILOT)]
        out = self.burst(at, items)
        if prev.plugged and not phase.plugged and self.fw == "5.x":
            out += self.burst(at + 0.2, [("session_energy", b"0"), ("session_elapsed", b"0")])
        return out

    def _retained(self, out: list[SimMessage], rng: random.Random) -> None:
        """What a (re)connecting subscriber is handed first: values that are no longer true.

        Once when the recording starts (a charge from before the simulation) and once while idle
        after the first charge (the recorder reconnecting, handed values from mid-charge).
        """
        plan = self.plan
        at = plan.start + rng.uniform(0.2, 1.5)
        energy = rng.uniform(1000, 12000)
        items = [("state", b"3"), ("amp", b"%d" % rng.randint(24000, 30000))]
        if self.modern:
            total = plan.total_wh(plan.start) - rng.uniform(5000, 60000)
            items += [
                (self.announce, self._announce("connected")),
                ("vehicle", b"1"),
                ("session_energy", _num(energy, 2)),
                ("session_elapsed", b"%d" % (energy / 7.0)),
                ("total_energy", _num(total / 1000.0, 6)),
                ("uptime", b"%d" % (plan.uptime(plan.start) * rng.uniform(0.1, 0.9))),
            ]
        elif self.fw == "2.x":
            items.append(("wh", b"%d" % (energy * 3600)))
        else:
            items.append(("wh", b"%d" % (plan.lifetime_wh(plan.start) - energy)))
        self._add_replay(out, at, items)
        if not self.runs:
            return
        after_first = (
            p
            for p in plan.phases
            if p.state == 1 and p.start >= self.runs[0][1] and p.end - p.start > 30 * MINUTE
        )
        idle = next(after_first, None)
        if idle is None:
            return
        at = idle.start + rng.uniform(5, 15) * MINUTE
        begin, stop = [r for r in self.runs if r[1] <= idle.start][-1]
        mid = (begin + stop) / 2.0
        amps = plan.phase_at(mid).amps(mid)
        items = [("state", b"3"), ("amp", b"%d" % (amps * 1000))]
        if self.modern:
            items += [("vehicle", b"1"), *self._counter_items(mid)[:3]]
            items.append(("uptime", b"%d" % plan.uptime(mid)))
        else:
            items.append(("wh", self._wh(mid)))
        self._add_replay(out, at, items)

    def _add_replay(self, out: list[SimMessage], at: float, items: list[tuple[str, bytes]]) -> None:
        out += self.burst(at, items, retained=True)
        self.injected.append(Injected(self.base, "retained", at, at + len(items) * STEP))

    def _junk(self, out: list[SimMessage], rng: random.Random) -> None:
        """Unreadable payloads on numeric topics: each kind once during the first charge, then a
        couple a day at random."""
        plan = self.plan
        keys = (
            ("amp", "session_energy", "state", "total_energy", "voltage", "vehicle")
            if self.modern
            else ("amp", "wh", "state", "volt")
        )
        begin, stop = self.runs[0] if self.runs else (plan.start, plan.end)
        times = [begin + (i + 1) * (stop - begin) / (len(JUNK) + 1) for i in range(len(JUNK))]
        payloads = list(JUNK)
        for _ in range(int(self.spec.days * 2)):
            times.append(rng.uniform(plan.start, plan.end))
            payloads.append(rng.choice(JUNK))
        for n, (at, payload) in enumerate(zip(times, payloads, strict=True)):
            at = self._outside_gaps(at)
            if at >= plan.end or plan.phase_at(at).state == OFF:
                continue
            key = keys[n % len(keys)]
            out += self.burst(at, [(key, payload)])
            self.injected.append(Injected(self.base, "junk", at, at, f"{key} {payload!r}"))

    def _outside_gaps(self, at: float) -> float:
        for g0, g1 in self.plan.gaps:
            if g0 <= at < g1:
                return g1 + 1.0
        return at

    def _duplicates(self, rng: random.Random) -> None:
        """The first dump at or after each of these times is received twice."""
        plan = self.plan
        times = [rng.uniform(plan.start, plan.end) for _ in range(max(1, int(self.spec.days * 8)))]
        if self.runs:
            times.append(self.runs[0][0] + 60.0)
        self.dup_times = sorted(times)
        self.injected += [
            Injected(self.base, "duplicates", t, t, "next dump") for t in self.dup_times
        ]

    # ---- the cadence, generated lazily -------------------------------------------------------

    def messages(self) -> Iterator[SimMessage]:
        streams: list[Iterable[SimMessage]] = [self.extras, self._dumps()]
        if self.modern:
            streams += [self._fast(), self._counters()]
        merged = heapq.merge(*streams, key=_BY_TS)
        end = self.plan.end
        gaps = self.plan.gaps
        g = 0
        for message in merged:
            ts = message.ts
            if ts >= end:
                return
            while g < len(gaps) and ts >= gaps[g][1]:
                g += 1
            if g < len(gaps) and ts >= gaps[g][0]:
                continue
            yield message

    def _charging_phases(self) -> Iterator[Phase]:
        return (p for p in self.plan.phases if p.state == CHARGING)

    def _fast(self) -> Iterator[SimMessage]:
        """amp, voltage, power every second while charging."""
        rng = random.Random(f"fast/{self.seed}")
        volts = self.plan.volts
        amp, voltage, power = self._topic("amp"), self._topic("voltage"), self._topic("power")
        every = self.spec.telemetry_interval
        for phase in self._charging_phases():
            at = math.floor(phase.start - self.tick) + 1.0 + self.tick
            while at + 2 * STEP < phase.end:
                ma = max(0, round(phase.amps(at) * 1000.0 + rng.gauss(0.0, 120.0)))
                v = round(volts + rng.gauss(0.0, 0.3))
                yield SimMessage(round(at, 6), amp, b"%d" % ma)
                yield SimMessage(round(at + STEP, 6), voltage, b"%d" % v)
                yield SimMessage(round(at + 2 * STEP, 6), power, b"%d" % round(ma * v / 1000.0))
                at += every

    def _counters(self) -> Iterator[SimMessage]:
        """session_energy, session_elapsed, total_energy, total_day... every 5 s while charging."""
        every = max(5.0, self.spec.telemetry_interval)
        for phase in self._charging_phases():
            at = math.floor((phase.start - self.tick) / 5.0) * 5.0 + 5.0 + self.tick + 0.25
            while at + 7 * STEP < phase.end:
                yield from self.burst(at, self._counter_items(at))
                at += every

    def _dumps(self) -> Iterator[SimMessage]:
        """The full dump about every 30 s (or `idle_dump_interval` while not charging)."""
        rng = random.Random(f"dump/{self.seed}")
        plan = self.plan
        phases = plan.phases
        idle = self.spec.idle_dump_interval
        run_starts = [begin for begin, _ in self.runs]
        dups, d = self.dup_times, 0
        gaps, g = plan.gaps, 0
        i = 0
        at = plan.start + rng.uniform(0.0, DUMP_EVERY)
        while at < plan.end:
            while phases[i].end <= at and i + 1 < len(phases):
                i += 1
            phase = phases[i]
            if phase.state == OFF:
                at = next((p.start for p in phases[i:] if p.state != OFF), plan.end)
                at += rng.uniform(1.5, 3.0)
                continue
            if phase.end - at < BURST and phase.end < plan.end:
                at = phase.end + BURST
                continue
            items = self._dump_items(at, phase, rng)
            while g < len(gaps) and at >= gaps[g][1]:
                g += 1
            in_gap = g < len(gaps) and at >= gaps[g][0]
            twice = not in_gap and d < len(dups) and dups[d] <= at
            if twice:
                while d < len(dups) and dups[d] <= at:
                    d += 1
            for message in self.burst(at, items):
                yield message
                if twice:
                    yield message
            charging_step = max(DUMP_EVERY, self.spec.telemetry_interval)
            step = charging_step if phase.state == CHARGING else idle
            following = at + step + rng.uniform(-0.2, 0.2)
            if step > DUMP_EVERY:  # a thinned idle dump must not skip the start of a charge
                k = bisect_right(run_starts, at)
                if k < len(run_starts) and run_starts[k] < following:
                    following = run_starts[k] + rng.uniform(1.0, DUMP_EVERY)
            at = following

    def _dump_items(self, at: float, phase: Phase, rng: random.Random) -> list[tuple[str, bytes]]:
        charging = phase.state == CHARGING
        ma = max(0, round(phase.amps(at) * 1000.0 + rng.gauss(0.0, 120.0))) if charging else 0
        volts = round(self.plan.volts + rng.gauss(0.0, 0.3))
        temp = round(self.temp_base + (60 if charging else 0) + rng.gauss(0.0, 5.0))
        state = b"%d" % phase.state
        if not self.modern:
            return [
                ("amp", b"%d" % ma),
                ("volt", b"%d" % volts),
                ("wh", self._wh(at)),
                ("temp1", b"%d" % temp),
                ("temp2", b"%d" % (temp + 15)),
                ("temp3", b"%d" % (temp - 10)),
                ("pilot", PILOT),
                ("state", state),
            ]
        flags = (0x0100 if phase.vehicle else 0) | (0x0040 if charging else 0)
        items = [
            ("state", state),
            ("vehicle", b"%d" % phase.vehicle),
            ("flags", b"%d" % flags),
            ("status", b"disabled" if phase.state in (254, 255) else b"active"),
            ("pilot", PILOT),
            ("amp", b"%d" % ma),
            ("voltage", b"%d" % volts),
            ("power", b"%d" % round(ma * volts / 1000.0)),
            ("temp", b"%d" % temp),
            *self._counter_items(at, first=9),
        ]
        if self.fw == "4.1":
            items.append(("wh", self._wh(at)))
        items += [
            ("uptime", b"%d" % self.plan.uptime(at)),
            ("time", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at)).encode()),
            ("srssi", b"%d" % rng.randint(-72, -55)),
            ("freeram", b"%d" % rng.randint(90000, 150000)),
        ]
        return items
