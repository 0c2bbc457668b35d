"""Rendering a planned charger as the messages its firmware publishes, lazily and in time order.

Three generators follow the firmware's cadence (the ~30 s dump, and while charging on 4.1/5.x
the 1 s power values and the 5 s counters); everything rarer (state changes, boots, last wills,
junk, retained replays, the odd empty or binary payload) is a small list built up front.
heapq.merge interleaves them, and a broker gap drops whatever falls inside it, so memory stays
flat however long the simulation.

Receive times look like a real recorder's: the messages of one burst arrive 150-900 us apart,
each periodic burst a few ms late (Wi-Fi and broker latency, not accumulating), and the dump's
30 s timer drifts by some ms each round, as the firmware re-arms it after its loop. One charger's
messages never share a microsecond (its link is one TCP stream), except a deliberately repeated
dump ("duplicates"). Values are read at each message's own receive time.
"""

from __future__ import annotations

import heapq
import json
import math
import random
import re
import time
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from operator import attrgetter

from simulator.model import Injected, SimMessage, SimulationSpec
from simulator.plan import CHARGING, DAY, MINUTE, OFF, ChargerPlan, Phase
from simulator.sensors import Sensors, Vitals

# Receive-time jitter in microseconds, as tables indexed by 10 random bits (cheap to draw):
# between two messages of one burst 150-900 us, mostly near 300 (150 + 750 u^2), and how late a
# periodic burst arrives, 0.8-31 ms, mostly a few (800 + 30000 u^3).
_BITS = 10
GAPS_US = tuple(150 + int(750 * ((i + 0.5) / (1 << _BITS)) ** 2) for i in range(1 << _BITS))
LATE_US = tuple(800 + int(30000 * ((i + 0.5) / (1 << _BITS)) ** 3) for i in range(1 << _BITS))
DRIFT_MIN, DRIFT_SPAN = 0.002, 0.01  # what the dump timer loses each round: 2-12 ms
BURST = 0.05  # a dump ends this long before a state change, or starts this long after it
DUMP_EVERY = 30.0
WILL_DELAY = 90.0  # the broker publishes the last will 1.5 keep-alives (60 s) after a silence
PILOT = b"32"
JUNK = (b"abc", b"", b"NaN", b"-1", b"1e308", b'{"value":1}', b"false")
MODERN = ("4.1", "5.x")  # session and lifetime counters, `power`, uptime, config documents
ESP32 = ("3.x", "4.0", *MODERN)  # the WiFi module that announces itself
WITH_VEHICLE = ("4.0", *MODERN)  # ESP32 WiFi 3.x publishes no `vehicle`
# The keys of a dump: 2.x; 3.x's and 4.0-4.1.0's create_rapi_json (src/input.cpp of those tags);
# 4.1.1+ in docs/openevse-mqtt.md's order (plus `wh` on 4.1.x).
DUMP_SIZE = {"2.x": 8, "2.x-lifetime": 8, "3.x": 11, "4.0": 15, "4.1": 25, "5.x": 24}
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


def _exponent(value: float) -> bytes:
    """`28622820` as ArduinoJson prints a large double: `2.862282e7` (9 significant digits at
    most, no trailing zeros)."""
    digits = len(b"%d" % int(value)) - 1
    mantissa = _num(value / 10**digits, 8)
    return b"%se%d" % (mantissa, digits)


def _num(value: float, places: int) -> bytes:
    """A non-negative number as the firmware prints it: at most `places` decimals, no trailing
    zeros (`233.5`, `240`)."""
    text = b"%.*f" % (places, value if value > 0.0 else 0.0)
    return text.rstrip(b"0").rstrip(b".") if places else text


class Renderer:
    """The messages of one charger; `extras` and `injected` are built at construction."""

    def __init__(self, plan: ChargerPlan, spec: SimulationSpec) -> None:
        self.plan = plan
        self.spec = spec
        self.fw = plan.firmware
        self.modern = self.fw in MODERN
        self.esp32 = self.fw in ESP32
        self.vehicle = self.fw in WITH_VEHICLE
        base = plan.charger.name
        self.base = base
        self.topic: dict[str, str] = {}
        self.seed = f"{spec.seed}/{plan.index}/{base}"
        rng = random.Random(f"decor/{self.seed}")
        self.tick = rng.uniform(0.0, 1.0)  # where the 1 s and 5 s ticks fall within a second
        rng.uniform(220, 320)  # unused (sensors.py has the temperature): keeps the ids below
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
        self.sensors = Sensors(plan, self.seed)
        self.runs = self.sensors.runs
        self._spacing = random.Random(f"spacing/{self.seed}").getrandbits  # for bursts built here
        extras: list[SimMessage] = []
        self._transitions(extras, rng)
        self._oddities(extras, random.Random(f"odd/{self.seed}"))
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
        self, at: float, items: list[tuple[str, bytes]], retained: bool = False
    ) -> list[SimMessage]:
        """Messages received one after another from `at`; a key with '/' is a full topic."""
        return self._emit(spread(round(at * 1e6), len(items), self._spacing), items, retained)

    def _emit(
        self, times: list[float], items: Iterable[tuple[str, bytes]], retained: bool = False
    ) -> list[SimMessage]:
        topic = self._topic
        return [
            SimMessage(at, key if "/" in key else topic(key), data, retained)
            for at, (key, data) in zip(times, items, strict=True)
        ]

    def _announce(self, state: str) -> bytes:
        return json.dumps({"state": state, **self.ident}, separators=(",", ":")).encode()

    def _config(self) -> bytes:
        version = "5.1.2" if self.fw == "5.x" else "4.1.5"
        doc = {"firmware": "7.1.3", "version": version, "hostname": self.base, "mqtt_retained": 0}
        return json.dumps(doc, separators=(",", ":")).encode()

    def _counter_items(self, when: list[float]) -> list[tuple[str, bytes]]:
        """The 5 s set of 4.1/5.x (session and lifetime counters) read at `when`, the times of
        its 7 messages: each value is read at its own message's time, so that interleaved bursts
        (a dump and a 5 s set) never show a counter going down."""
        plan = self.plan
        elapsed = plan.session(when[0])[1]
        energy = plan.session(when[1])[0]
        total, day, week, month, year = (plan.total_wh(t) for t in when[2:])
        starts = self._period_starts(when[0])
        return [
            ("session_elapsed", b"%d" % elapsed),
            ("session_energy", _num(energy, 2)),
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
        """The 2.x `wh`: session watt-seconds, or lifetime Wh from 2.7.6 on (and on 4.x, where
        it is a double that ArduinoJson prints in exponent notation from 1e7 on)."""
        if self.fw == "2.x":
            return b"%d" % round(self.plan.session(t)[0] * 3600.0)
        wh = self.plan.lifetime_wh(t)
        if self.fw in ("4.0", "4.1") and wh >= 1e7:
            return _exponent(wh)
        return b"%d" % wh

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
        if self.esp32:
            hello = [(self.announce, self._announce("connected"))]
            for _, g1 in self.plan.gaps:  # the link is back: the charger reconnects and announces
                out += self.burst(g1 + rng.uniform(0.5, 3.0), hello)

    def _will(self, at: float) -> list[SimMessage]:
        if self.esp32:
            return self.burst(at, [(self.announce, self._announce("disconnected"))])
        return [SimMessage(round(at, 6), self.base, b"disconnected")]

    def _boot(self, at: float, phase: Phase) -> list[SimMessage]:
        items: list[tuple[str, bytes]] = []
        if self.esp32:
            items.append((self.announce, self._announce("connected")))
        if self.modern:
            items.append(("config", self._config()))
        items.append(("state", b"%d" % phase.state))
        if self.vehicle:
            items.append(("vehicle", b"%d" % phase.vehicle))
        return self.burst(at, items)

    def _change(self, at: float, prev: Phase, phase: Phase) -> list[SimMessage]:
        items: list[tuple[str, bytes]] = []
        if phase.state != prev.state:
            items.append(("state", b"%d" % phase.state))
        if not self.vehicle:
            return self.burst(at, items)
        if phase.vehicle != prev.vehicle:
            items.append(("vehicle", b"%d" % phase.vehicle))
        if not self.modern:
            return self.burst(at, items)
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
            if self.vehicle:
                items.append(("vehicle", b"1"))
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
            items += [("vehicle", b"1"), *self._counter_items([mid] * 7)[:3]]
            items.append(("uptime", b"%d" % plan.uptime(mid)))
        else:
            items.append(("wh", self._wh(mid)))
            if self.vehicle:
                items.append(("vehicle", b"1"))
        self._add_replay(out, at, items)

    def _add_replay(self, out: list[SimMessage], at: float, items: list[tuple[str, bytes]]) -> None:
        replay = self.burst(at, items, retained=True)
        out += replay
        self.injected.append(Injected(self.base, "retained", at, replay[-1].ts))

    def _junk(self, out: list[SimMessage], rng: random.Random) -> None:
        """Unreadable payloads on numeric topics: each kind once during the first charge, then a
        couple a day at random."""
        plan = self.plan
        keys = (
            ("amp", "session_energy", "state", "total_energy", "voltage", "vehicle")
            if self.modern
            else ("amp", "wh", "state", "voltage", "vehicle")
            if self.vehicle
            else ("amp", "wh", "state", "voltage" if self.esp32 else "volt")
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

    def _oddities(self, out: list[SimMessage], rng: random.Random) -> None:
        """Payloads no parser expects, on topics nothing projects, a few a day as real brokers
        carry them: an empty `status` (a client clearing it) and small binary blobs on `debug`
        (a 2.x charger has no `status`: its empty ones are on `debug` too). They keep a journal
        codec honest about empty and non-text payloads. A blob never holds a newline, so that
        an import file stays one message a line."""
        plan = self.plan
        empty_key = "status" if self.modern else "debug"
        day = plan.start
        while day < plan.end:
            count = rng.randint(3, 6)
            for n in range(count):
                at = rng.uniform(day, min(day + DAY, plan.end))
                if n % 2:
                    payload = rng.randbytes(rng.randint(4, 48)).replace(b"\n", b"\x0b")
                    item = ("debug", payload)
                else:
                    item = (empty_key, b"")
                if plan.phase_at(at).state != OFF:  # a charger that is off publishes nothing
                    out += self.burst(at, [item])
            day += DAY

    # ---- the cadence, generated lazily -------------------------------------------------------

    def messages(self) -> Iterator[SimMessage]:
        streams: list[Iterable[SimMessage]] = [self.extras, self._dumps()]
        if self.vehicle:  # 4.0 and newer: amp and voltage each second while charging
            streams.append(self._fast())
        if self.modern:
            streams.append(self._counters())
        if self.esp32 and self.spec.divert_interval is not None:
            streams.append(self._divert(self.spec.divert_interval))
        merged = heapq.merge(*streams, key=_BY_TS)
        start, end = self.plan.start, self.plan.end
        gaps = self.plan.gaps
        g = 0
        last = -1.0
        previous = None
        for message in merged:
            ts = message.ts
            if ts >= end:
                return
            if ts < start:
                continue  # before the recording began
            while g < len(gaps) and ts >= gaps[g][1]:
                g += 1
            if g < len(gaps) and ts >= gaps[g][0]:
                continue
            if ts <= last and message is not previous:  # two streams met on one microsecond
                ts = round(last + 0.000001, 6)
                message = SimMessage(ts, message.topic, message.payload, message.retained)
            last, previous = ts, message
            yield message

    def _charging_phases(self) -> Iterator[Phase]:
        return (p for p in self.plan.phases if p.state == CHARGING)

    def _fast(self) -> Iterator[SimMessage]:
        """amp, voltage (and from 4.1.1 power) every second while charging, each second's burst
        a little late."""
        rng = random.Random(f"fast/{self.seed}")
        rnd, bits, gauss = rng.random, rng.getrandbits, rng.gauss
        volts = self.sensors.volts
        amp, voltage, power = self._topic("amp"), self._topic("voltage"), self._topic("power")
        every = self.spec.telemetry_interval
        for phase in self._charging_phases():
            due = math.floor(phase.start - self.tick) + 1.0 + self.tick
            end = round(phase.end * 1e6)
            while True:
                u0 = round(due * 1e6) + LATE_US[bits(_BITS)]
                u1 = u0 + GAPS_US[bits(_BITS)]
                u2 = u1 + GAPS_US[bits(_BITS)]
                if u2 >= end:
                    break
                t0, t1 = u0 / 1e6, u1 / 1e6  # exact to the microsecond, like round(t, 6)
                ma = max(0, round(phase.amps(t0) * 1000.0 + gauss(0.0, 120.0)))
                v = round(volts(t1, ma, rnd()) * 100.0) / 100.0
                yield SimMessage(t0, amp, b"%d" % ma)
                yield SimMessage(t1, voltage, _num(v, 2))
                if self.modern:
                    yield SimMessage(u2 / 1e6, power, _num(ma * v / 1000.0, 6))
                due += every

    def _counters(self) -> Iterator[SimMessage]:
        """session_elapsed, session_energy, total_energy, total_day... every 5 s while charging."""
        bits = random.Random(f"counters/{self.seed}").getrandbits
        topics = [self._topic(key) for key, _ in self._counter_items([self.plan.start] * 7)]
        every = max(5.0, self.spec.telemetry_interval)
        for phase in self._charging_phases():
            due = math.floor((phase.start - self.tick) / 5.0) * 5.0 + 5.0 + self.tick + 0.25
            while True:
                times = spread(round(due * 1e6) + LATE_US[bits(_BITS)], 7, bits)
                if times[-1] >= phase.end:
                    break
                items = self._counter_items(times)
                for t, topic, (_, data) in zip(times, topics, items, strict=True):
                    yield SimMessage(t, topic, data)
                due += every

    def _divert(self, every: float) -> Iterator[SimMessage]:
        """Solar divert's event (src/divert.cpp, Eco mode) on each energy-monitor reading while
        the charger is on: far more messages than anything else, none of them projected."""
        rng = random.Random(f"divert/{self.seed}")
        bits = rng.getrandbits
        plan = self.plan
        three_phase = rng.random() < 0.3
        keys = (
            "divert_update", "grid_ie", "divert_active", "charge_rate", "trigger_current",
            "voltage", "available_current", "smoothed_available_current", "pilot",
            "min_charge_end",
        )  # fmt: skip
        topics = [self._topic(key) for key in keys]
        smoothed = 0.0
        at = plan.start + rng.uniform(0.0, every)
        while at < plan.end:
            phase = plan.phase_at(at)
            if phase.state != OFF:
                times = spread(round(at * 1e6) + LATE_US[bits(_BITS)], len(keys), bits)
                charging = phase.state == CHARGING
                amps = phase.amps(at) if charging else 0.0
                grid = round(rng.gauss(-1500.0, 900.0) + amps * 240.0)
                volts = self.sensors.volts(times[5], round(amps * 1000.0), rng.random())
                available = max(0.0, -grid / 240.0)
                smoothed += (available - smoothed) * 0.2
                values = [
                    b"0",
                    b"%d" % grid,
                    b"true" if charging else b"false",
                    b"%d" % round(amps),
                    b"6",
                    _num(volts * (3 if three_phase else 1), 2),
                    _num(available, 2),
                    _num(smoothed, 6),
                    PILOT,
                    b"0",
                ]
                yield from (
                    SimMessage(t, topic, value)
                    for t, topic, value in zip(times, topics, values, strict=True)
                )
            at += every * rng.uniform(0.8, 1.2)

    def _dumps(self) -> Iterator[SimMessage]:
        """The full dump about every 30 s (or `idle_dump_interval` while not charging)."""
        rng = random.Random(f"dump/{self.seed}")
        rnd, bits = rng.random, rng.getrandbits
        vitals = self.sensors.vitals(random.Random(f"vitals/{self.seed}"))
        plan = self.plan
        phases = plan.phases
        idle = self.spec.idle_dump_interval
        size = DUMP_SIZE[self.fw]
        run_starts = [begin for begin, _ in self.runs]
        dups, d = self.dup_times, 0
        gaps, g = plan.gaps, 0
        topics: list[str] | None = None
        i = 0
        at = plan.start  # when the firmware's timer fires
        cut = rng.randint(1, size - 1)  # the recording began in the middle of the first dump
        while at < plan.end:
            while phases[i].end <= at and i + 1 < len(phases):
                i += 1
            phase = phases[i]
            if phase.state == OFF:
                at = next((p.start for p in phases[i:] if p.state != OFF), plan.end)
                at += rng.uniform(1.5, 3.0)
                continue
            times = spread(round(at * 1e6) + LATE_US[bits(_BITS)], size, bits)
            if cut:  # its first `cut` messages were sent before the recording began
                shift = round((plan.start - times[cut]) * 1e6) + 1
                times = [(round(t * 1e6) + shift) / 1e6 for t in times]
                cut = 0
            if phase.end - times[-1] < BURST and phase.end < plan.end:
                at = phase.end + BURST
                continue
            items = self._dump_items(times, phase, rng, vitals)
            while g < len(gaps) and at >= gaps[g][1]:
                g += 1
            in_gap = g < len(gaps) and at >= gaps[g][0]
            twice = not in_gap and d < len(dups) and dups[d] <= at
            if twice:
                while d < len(dups) and dups[d] <= at:
                    d += 1
            if topics is None:  # a firmware's dump always has the same keys in the same order
                topics = [self._topic(key) for key, _ in items]
            for t, topic, (_, data) in zip(times, topics, items, strict=True):
                message = SimMessage(t, topic, data)
                yield message
                if twice:
                    yield message
            charging_step = max(DUMP_EVERY, self.spec.telemetry_interval)
            step = charging_step if phase.state == CHARGING else idle
            following = at + step + DRIFT_MIN + DRIFT_SPAN * rnd()
            if step > DUMP_EVERY:  # a thinned idle dump must not skip the start of a charge
                k = bisect_right(run_starts, at)
                if k < len(run_starts) and run_starts[k] < following:
                    following = run_starts[k] + rng.uniform(1.0, DUMP_EVERY)
            at = following

    def _dump_items(
        self, times: list[float], phase: Phase, rng: random.Random, vitals: Vitals
    ) -> list[tuple[str, bytes]]:
        """One dump read at its messages' `times`, in the firmware's key order (docs/
        openevse-mqtt.md: amp, voltage, power, pilot, temp..., state, status, flags, vehicle,
        freeram, srssi, time, uptime, the counters)."""
        charging = phase.state == CHARGING
        sensors = self.sensors
        at = times[0]
        ma = max(0, round(phase.amps(at) * 1000.0 + rng.gauss(0.0, 120.0))) if charging else 0
        celsius = sensors.celsius(at)
        tenths = round(celsius * 10.0 + rng.gauss(0.0, 0.7))  # tenths of a degree, as published
        state = b"%d" % phase.state
        if self.esp32 and not self.modern:
            return self._rapi_items(times, phase, ma, tenths, vitals, rng)
        if not self.modern:
            volts = round(sensors.volts(times[1], ma, rng.random()))
            return [
                ("amp", b"%d" % ma),
                ("volt", b"%d" % volts),
                ("wh", self._wh(times[2])),
                ("temp1", b"%d" % tenths),
                ("temp2", b"%d" % (tenths + 15)),
                ("temp3", b"%d" % (tenths - 10)),
                ("pilot", PILOT),
                ("state", state),
            ]
        v = round(sensors.volts(times[1], ma, rng.random()), 2)
        rtc = round((celsius + sensors.rtc_offset) * 4.0) * 2.5  # a 0.25 degree sensor
        flags = (0x0100 if phase.vehicle else 0) | (0x0040 if charging else 0)
        srssi, freeram = vitals.step()
        items = [
            ("amp", b"%d" % ma),
            ("voltage", _num(v, 2)),
            ("power", _num(ma * v / 1000.0, 6)),
            ("pilot", PILOT),
            ("temp", b"%d" % tenths),
            ("temp1", _num(rtc, 1)),
            ("temp2", b"%d" % tenths),
            ("temp3", b"false"),  # no sensor fitted: the firmware says so in words
            ("temp4", b"false"),
            ("state", state),
            ("status", b"disabled" if phase.state in (254, 255) else b"active"),
            ("flags", b"%d" % flags),
            ("vehicle", b"%d" % phase.vehicle),
            ("freeram", b"%d" % freeram),
            ("srssi", b"%d" % srssi),
            ("time", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(times[15])).encode()),
            ("uptime", b"%d" % self.plan.uptime(times[16])),
            *self._counter_items(times[17:24]),
        ]
        if self.fw == "4.1":
            items.append(("wh", self._wh(times[24])))
        return items

    def _rapi_items(
        self,
        times: list[float],
        phase: Phase,
        ma: int,
        tenths: int,
        vitals: Vitals,
        rng: random.Random,
    ) -> list[tuple[str, bytes]]:
        """3.x and 4.0-4.1.0: create_rapi_json's keys in its order (no power, no counters but the
        lifetime `wh`; 4.0 adds `temp`, `vehicle`, `colour` and `manual_override`)."""
        v = round(self.sensors.volts(times[1], ma, rng.random()), 2)
        srssi, freeram = vitals.step()
        items = [("amp", b"%d" % ma), ("voltage", _num(v, 2)), ("pilot", PILOT)]
        items.append(("wh", self._wh(times[3])))
        if self.vehicle:
            items.append(("temp", b"%d" % tenths))
        items += [("temp1", b"%d" % tenths), ("temp2", b"false"), ("temp3", b"false")]
        items.append(("state", b"%d" % phase.state))
        if self.vehicle:
            colour = b"3" if phase.state == CHARGING else b"2" if phase.plugged else b"1"
            items += [("vehicle", b"%d" % phase.vehicle), ("colour", colour)]
            items.append(("manual_override", b"0"))
        items += [("freeram", b"%d" % freeram), ("divertmode", b"1"), ("srssi", b"%d" % srssi)]
        return items


def spread(first_us: int, n: int, bits: Callable[[int], int]) -> list[float]:
    """The receive times (Unix seconds, exact to the microsecond) of a burst of `n` messages,
    the first at `first_us` microseconds: each 150-900 us after the one before, never
    reordered. `bits` is a random stream's getrandbits."""
    if n <= 0:
        return []
    t = first_us
    times = [t / 1e6]  # a correctly rounded quotient: the same float as round(t / 1e6, 6)
    for _ in range(n - 1):
        t += GAPS_US[bits(_BITS)]
        times.append(t / 1e6)
    return times
