"""The traffic simulator: deterministic, in time order, the right topics and units per firmware
generation, each fault where requested and nowhere else, the firmware's cadence, a truth that
agrees with the counters, and `chargelog simulate` end to end (import file, private broker)."""

from __future__ import annotations

import argparse
import hashlib
import io
import math
import re
import subprocess
import sys
import threading
import time
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from itertools import pairwise
from pathlib import Path

import pytest

from chargelog.commands import simulate as simulate_command
from journal.mqtt_client import release
from simulator import outputs
from simulator.traffic import (
    FAULTS,
    FIRMWARES,
    ChargerSpec,
    SimMessage,
    Simulation,
    SimulationSpec,
    TruePlugin,
    default_chargers,
    parse_faults,
    simulate,
)
from tests.services import PrivateBroker

START = datetime(2026, 1, 5, 12, tzinfo=UTC)  # a Monday noon
DAYS = 1.0  # the first evening's plug-in (which carries every requested fault) ends inside
NAMES = {
    "2.x": "openevse",
    "2.x-lifetime": "openevse",
    "3.x": "openevse-3c3d",
    "4.0": "openevse-4e4f",
    "4.1": "openevse-4a1b",
    "5.x": "openevse-ab12",
}
# create_rapi_json of the 3.x and 4.0-4.1.0 WiFi firmwares (src/input.cpp), in its order
RAPI_ORDER = {
    "3.x": ["amp", "voltage", "pilot", "wh", "temp1", "temp2", "temp3", "state", "freeram",
            "divertmode", "srssi"],
    "4.0": ["amp", "voltage", "pilot", "wh", "temp", "temp1", "temp2", "temp3", "state",
            "vehicle", "colour", "manual_override", "freeram", "divertmode", "srssi"],
}  # fmt: skip
LEGACY_KEYS = {"amp", "volt", "wh", "temp1", "temp2", "temp3", "pilot", "state", "debug"}
MODERN_KEYS = {
    "state", "vehicle", "flags", "status", "pilot", "amp", "voltage", "power", "temp",
    "temp1", "temp2", "temp3", "temp4", "session_energy", "session_elapsed", "total_energy",
    "total_day", "total_week", "total_month", "total_year", "uptime", "time", "srssi",
    "freeram", "debug",
}  # fmt: skip
NUMERIC = {"state", "vehicle", "amp", "voltage", "volt", "power", "wh", "session_energy"}
NUMERIC |= {"session_elapsed", "total_energy", "uptime", "pilot", "temp", "temp1"}
MAX_W = 7400.0


def spec_for(firmware: str, faults: str = "none", days: float = DAYS, seed: int = 1, **kw: float):
    charger = ChargerSpec(NAMES[firmware], firmware)
    return SimulationSpec((charger,), START, days, seed, parse_faults(faults), **kw)


@cache
def run(firmware: str, faults: str = "none", days: float = DAYS, **kw: float):
    sim = simulate(spec_for(firmware, faults, days, **kw))
    return sim, tuple(sim.messages())


def key_of(message: SimMessage) -> str:
    return message.topic.rpartition("/")[2]


def number(payload: bytes) -> float | None:
    """What a sane reader accepts: a finite, non-negative, not absurd number."""
    try:
        value = float(payload)
    except ValueError:
        return None
    return value if math.isfinite(value) and 0 <= value < 1e12 else None


def series(messages: Iterable[SimMessage], key: str) -> list[tuple[float, float]]:
    """(time, value) of the live, readable messages of one key."""
    out = []
    for m in messages:
        if key_of(m) == key and not m.retained and "/announce/" not in m.topic:
            value = number(m.payload)
            if value is not None:
                out.append((m.ts, value))
    return out


def last_before(points: list[tuple[float, float]], t: float) -> float:
    return points[bisect_left(points, (t,)) - 1][1]


def first_after(points: list[tuple[float, float]], t: float) -> tuple[float, float]:
    return points[bisect_left(points, (t,))]


# ---- what each fault looks like on the wire ---------------------------------------------------


@dataclass
class Seen:
    states: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    retained_values: int = 0
    duplicates: int = 0
    junk: int = 0
    charging_silences: int = 0

    def has(self, run: tuple[int, ...]) -> bool:
        n = len(run)
        return any(
            tuple(seq[i : i + n]) == run for seq in self.states.values() for i in range(len(seq))
        )


def observe(messages: Iterable[SimMessage]) -> Seen:
    """Per charger: the sequence of distinct live states, and the signs of each fault."""
    seen = Seen()
    last_at: dict[str, float] = {}
    silent_since: dict[str, float] = {}
    previous = None
    for m in messages:
        if m == previous:
            seen.duplicates += 1
        previous = m
        base, _, key = m.topic.rpartition("/")
        if m.retained:
            seen.retained_values += "/announce/" not in m.topic
            continue
        if key in NUMERIC and number(m.payload) is None:
            seen.junk += 1
            continue
        if base in last_at and m.ts - last_at[base] > 60:
            silent_since[base] = m.ts
        last_at[base] = m.ts
        if key != "state":
            continue
        state = int(float(m.payload))
        seq = seen.states[base]
        if base in silent_since and seq and seq[-1] == 3 and state == 3:
            seen.charging_silences += 1
        silent_since.pop(base, None)
        if not seq or seq[-1] != state:
            seq.append(state)
    return seen


SIGNS: dict[str, Callable[[Seen], bool]] = {
    "pause": lambda s: s.has((3, 254, 3)),
    "fault": lambda s: s.has((3, 6, 2, 3)),
    "reboot": lambda s: s.has((3, 0)),
    "gap": lambda s: s.charging_silences > 0,
    "retained": lambda s: s.retained_values > 0,
    "duplicates": lambda s: s.duplicates > 0,
    "junk": lambda s: s.junk > 0,
    "stale_unplug": lambda s: s.has((2, 0, 1)),
    "start_sleeping": lambda s: s.has((1, 254, 3)),
}
assert set(SIGNS) == set(FAULTS)


def signs(firmware: str, faults: str) -> frozenset[str]:
    seen = observe(run(firmware, faults)[1])
    return frozenset(name for name, sign in SIGNS.items() if sign(seen))


@pytest.mark.parametrize("firmware", FIRMWARES)
def test_every_fault_shows_when_all_are_requested(firmware: str) -> None:
    assert signs(firmware, "all") == set(FAULTS)


@pytest.mark.parametrize("firmware", FIRMWARES)
def test_no_fault_shows_when_none_is_requested(firmware: str) -> None:
    assert signs(firmware, "none") == set()


@pytest.mark.parametrize(
    ("firmware", "fault"),
    [("2.x", f) for f in FAULTS] + [("5.x", f) for f in ("reboot", "gap", "stale_unplug")],
)
def test_a_requested_fault_shows_alone(firmware: str, fault: str) -> None:
    assert signs(firmware, fault) == {fault}


@pytest.mark.parametrize("firmware", FIRMWARES)
def test_injected_lists_exactly_the_requested_faults(firmware: str) -> None:
    for faults in ("all", "none", "pause,junk"):
        sim = simulate(spec_for(firmware, faults))
        assert {i.fault for i in sim.injected} == parse_faults(faults)


# ---- order, determinism ---------------------------------------------------------------------


def digest(messages: Iterable[SimMessage]) -> str:
    h = hashlib.sha256()
    for m in messages:
        h.update(m.line() + (b" R\n" if m.retained else b"\n"))
    return h.hexdigest()


def fleet_spec(seed: int) -> SimulationSpec:
    chargers = default_chargers(3, ["2.x", "2.x-lifetime", "5.x"], seed)
    return SimulationSpec(chargers, START, 0.5, seed, parse_faults("all"))


def test_same_seed_same_traffic_and_truth() -> None:
    a, b = simulate(fleet_spec(7)), simulate(fleet_spec(7))
    assert a.truth == b.truth
    assert a.injected == b.injected
    first = digest(a.messages())
    assert first == digest(b.messages()) == digest(a.messages())  # messages() starts afresh
    assert digest(simulate(fleet_spec(8)).messages()) != first


@pytest.mark.parametrize("faults", ["none", "all"])
def test_messages_in_time_order_within_the_simulation(faults: str) -> None:
    spec = SimulationSpec(default_chargers(4, FIRMWARES), START, 0.5, 3, parse_faults(faults))
    last = spec.start_ts
    chargers = set()
    for m in simulate(spec).messages():
        assert last <= m.ts < spec.end_ts
        last = m.ts
        chargers.add(m.topic.split("/")[0])
    assert {c.name for c in spec.chargers} <= chargers


def test_chargers_are_interleaved_lazily() -> None:
    """Months of traffic must not be built in memory: the first message comes at once."""
    spec = SimulationSpec(default_chargers(4, FIRMWARES), START, 365.0, 1, parse_faults("all"))
    began = time.monotonic()
    stream = simulate(spec).messages()
    first = [next(stream) for _ in range(1000)]
    assert time.monotonic() - began < 5.0
    assert len({m.topic.split("/")[0] for m in first}) == 4


# ---- topics and units, per firmware -------------------------------------------------------------


@pytest.mark.parametrize(
    ("firmware", "keys"),
    [
        ("2.x", LEGACY_KEYS),
        ("2.x-lifetime", LEGACY_KEYS),
        ("3.x", {*RAPI_ORDER["3.x"], "debug"}),
        ("4.0", {*RAPI_ORDER["4.0"], "debug"}),
        ("4.1", MODERN_KEYS | {"wh"}),
        ("5.x", MODERN_KEYS),
    ],
)
def test_topics_per_firmware(firmware: str, keys: set[str]) -> None:
    _, messages = run(firmware)
    assert {key_of(m) for m in messages} == keys
    bases = {m.topic.rpartition("/")[0] for m in messages if "/announce/" not in m.topic}
    assert bases == {NAMES[firmware]}


def closed_plugins(sim: Simulation) -> list[TruePlugin]:
    plugins = [p for p in sim.truth if p.unplugged_at is not None]
    assert plugins
    return plugins


def test_2x_wh_is_session_watt_seconds_reset_at_plugin() -> None:
    sim, messages = run("2.x")
    wh = series(messages, "wh")
    for plugin in closed_plugins(sim):
        assert plugin.unplugged_at is not None
        expected = plugin.energy_wh * 3600.0
        seen = last_before(wh, plugin.unplugged_at)
        assert expected - 31 * MAX_W <= seen <= expected + 1, plugin  # a dump is <= 30 s old
        at, value = first_after(wh, plugin.plugged_at)
        assert value <= (at - plugin.plugged_at) * MAX_W  # counting from 0 again


@pytest.mark.parametrize("firmware", ["2.x-lifetime", "3.x", "4.0"])
def test_lifetime_wh_grows_only_at_unplug(firmware: str) -> None:
    sim, messages = run(firmware)
    wh = series(messages, "wh")
    unplugs = closed_plugins(sim)
    changes = [(at, after - before) for (_, before), (at, after) in pairwise(wh) if after != before]
    assert len(changes) == len(unplugs)
    for (at, grew), plugin in zip(changes, unplugs, strict=True):
        assert plugin.unplugged_at is not None
        assert 0 < at - plugin.unplugged_at <= 31  # the first dump after the unplug
        assert grew == pytest.approx(plugin.energy_wh, abs=1.0)


def test_41_session_energy_resets_at_plugin_not_at_unplug() -> None:
    sim, messages = run("4.1")
    energy = series(messages, "session_energy")
    for plugin in closed_plugins(sim):
        assert plugin.unplugged_at is not None
        held = [v for t, v in energy if plugin.unplugged_at < t < plugin.unplugged_at + 60]
        assert held and min(held) == pytest.approx(plugin.energy_wh, abs=11.0)
        if plugin.cycles:
            at, value = first_after(energy, plugin.plugged_at)
            assert value <= (at - plugin.plugged_at) * MAX_W / 3600.0 + 0.01
    assert series(messages, "wh") and series(messages, "total_energy")


def test_5x_session_energy_resets_right_after_unplug() -> None:
    sim, messages = run("5.x")
    energy = series(messages, "session_energy")
    elapsed = series(messages, "session_elapsed")
    for plugin in closed_plugins(sim):
        assert plugin.unplugged_at is not None
        assert last_before(energy, plugin.unplugged_at) == pytest.approx(plugin.energy_wh, abs=11.0)
        for points in (energy, elapsed):
            at, value = first_after(points, plugin.unplugged_at)
            assert value == 0 and at - plugin.unplugged_at < 1.0


def test_5x_total_energy_is_monotonic_and_matches_the_truth() -> None:
    sim, messages = run("5.x")
    total = [v for _, v in series(messages, "total_energy")]
    assert total == sorted(total)
    charged = sum(p.energy_wh for p in sim.truth) / 1000.0
    assert total[-1] - total[0] == pytest.approx(charged, abs=0.02)


@pytest.mark.parametrize("firmware", ["4.1", "5.x"])
def test_vehicle_flag_follows_the_car(firmware: str) -> None:
    sim, messages = run(firmware)
    spans = [(p.plugged_at, p.unplugged_at or math.inf) for p in sim.truth]
    for at, value in series(messages, "vehicle"):
        assert value == any(a <= at < b for a, b in spans)


def test_truth_is_plausible() -> None:
    sim, _ = run("5.x", "all")
    reasons = set()
    for plugin in sim.truth:
        assert plugin.energy_wh <= 42_500
        bound = plugin.unplugged_at or sim.spec.end_ts
        previous_end = plugin.plugged_at
        for cycle in plugin.cycles:
            end = cycle.ended_at or sim.spec.end_ts
            assert previous_end <= cycle.started_at < end <= bound
            assert 0 < cycle.energy_wh <= (end - cycle.started_at) * MAX_W / 3600.0
            previous_end = end
            reasons.add(cycle.end_reason)
    assert {"stopped", "paused", "disabled", "fault", "reboot"} <= reasons
    assert reasons <= {"stopped", "unplugged", "paused", "disabled", "fault", "reboot", None}
    quiet, _ = run("5.x")
    assert {c.end_reason for p in quiet.truth for c in p.cycles} <= {"stopped", "unplugged", None}


def test_a_gap_does_not_end_the_cycle_and_hides_everything() -> None:
    sim, messages = run("5.x", "all")
    gaps = [i for i in sim.injected if i.fault == "gap"]
    assert gaps
    cycles = [c for p in sim.truth for c in p.cycles]
    for gap in gaps:
        assert any(c.started_at < gap.start and (c.ended_at or 1e12) > gap.end for c in cycles)
        assert not [m for m in messages if gap.start <= m.ts < gap.end]


def test_stale_unplug_happens_unseen_and_the_counter_carries_on() -> None:
    sim, messages = run("5.x", "stale_unplug", days=1.5)  # and the next evening's plug-in
    (off,) = [i for i in sim.injected if i.fault == "stale_unplug"]
    plugin = next(p for p in sim.truth if p.unplugged_at and off.start < p.unplugged_at < off.end)
    inside = [m for m in messages if off.start <= m.ts < off.end - 1e-3]  # the boot comes at end
    assert all(b'"disconnected"' in m.payload for m in inside)  # only the broker's last will
    energy = series(messages, "session_energy")
    later = next(p for p in sim.truth if p.plugged_at > off.end and p.cycles)
    held = [v for t, v in energy if off.start < t < later.plugged_at]
    assert held and set(held) == {last_before(energy, off.start)}  # no reset was seen...
    _, value = first_after(energy, later.cycles[0].started_at)
    assert value >= plugin.energy_wh  # ...so the next plug-in counts on from the old value


def test_5x_reboot_rolls_counters_back_by_at_most_5_minutes() -> None:
    sim, messages = run("5.x", "reboot")
    energy = series(messages, "session_energy")
    uptime = series(messages, "uptime")
    for reboot in (i for i in sim.injected if i.fault == "reboot"):
        before = last_before(energy, reboot.start)
        _, after = first_after(energy, reboot.end)
        assert 0 < before - after <= 300 * MAX_W / 3600.0 + 11
        assert first_after(uptime, reboot.end)[1] < 10


# ---- cadence ------------------------------------------------------------------------------------


def intervals(points: list[tuple[float, float]]) -> list[float]:
    return [b[0] - a[0] for a, b in pairwise(points)]


def test_5x_cadence_while_charging() -> None:
    sim, messages = run("5.x")
    amps, energy = series(messages, "amp"), series(messages, "session_energy")
    cycles = [c for p in sim.truth for c in p.cycles if c.ended_at]
    assert cycles
    for cycle in cycles:
        assert cycle.ended_at is not None
        span = cycle.ended_at - cycle.started_at
        dumps = span / 30.0
        n_amp = sum(cycle.started_at < t < cycle.ended_at for t, _ in amps)
        n_energy = sum(cycle.started_at < t < cycle.ended_at for t, _ in energy)
        assert n_amp == pytest.approx(span + dumps, abs=3)
        assert n_energy == pytest.approx(span / 5.0 + dumps, abs=3)


@pytest.mark.parametrize(("firmware", "key"), [("5.x", "uptime"), ("2.x", "temp1")])
def test_a_dump_about_every_30_seconds(firmware: str, key: str) -> None:
    _, messages = run(firmware)
    gaps = intervals(series(messages, key))
    assert min(gaps) > 29.5 and max(gaps) < 30.6


def test_idle_traffic_can_be_thinned_without_missing_a_charge() -> None:
    sim, messages = run("5.x", idle_dump_interval=600.0)
    dumps = series(messages, "uptime")
    assert len(dumps) < len(run("5.x")[1]) / 2 and max(intervals(dumps)) <= 600.5
    for cycle in (c for p in sim.truth for c in p.cycles if c.ended_at):
        in_cycle = [t for t, _ in dumps if cycle.started_at < t < cycle.ended_at]
        assert in_cycle and in_cycle[0] - cycle.started_at <= 30.5
        assert max(intervals([(t, 0) for t in in_cycle]), default=0) < 30.6


# ---- realistic noise: receive times, values, odd payloads ----------------------------------------

DUMP_ORDER = [
    "amp", "voltage", "power", "pilot", "temp", "temp1", "temp2", "temp3", "temp4", "state",
    "status", "flags", "vehicle", "freeram", "srssi", "time", "uptime", "session_elapsed",
    "session_energy", "total_energy", "total_day", "total_week", "total_month", "total_year",
]  # fmt: skip
DUMP_ONLY = {"pilot", "temp", "temp1", "temp2", "temp3", "temp4", "status", "flags", "freeram"}
DUMP_ONLY |= {"srssi", "time", "uptime"}


def bursts(messages: Iterable[SimMessage], within: float = 0.005) -> list[list[SimMessage]]:
    """Messages of one charger split where more than `within` seconds pass between two."""
    out: list[list[SimMessage]] = []
    for m in messages:
        if out and m.ts - out[-1][-1].ts <= within:
            out[-1].append(m)
        else:
            out.append([m])
    return out


@pytest.mark.parametrize("faults", ["none", "all"])
@pytest.mark.parametrize("firmware", FIRMWARES)
def test_receive_times_are_jittered_and_strictly_increase_per_charger(
    firmware: str, faults: str
) -> None:
    _, messages = run(firmware, faults)
    previous = None
    for m in messages:
        assert m.ts == round(m.ts, 6)
        if previous is not None:  # only a deliberately repeated dump shares its microsecond
            assert m.ts > previous.ts or (m == previous and faults == "all")
        previous = m
    gaps = [b.ts - a.ts for a, b in pairwise(messages) if b.ts - a.ts < 0.001 and a != b]
    in_range = [g for g in gaps if 0.000149 < g < 0.0009005]
    assert len(in_range) >= 0.97 * len(gaps)  # the rest: two streams' bursts meeting
    assert len({round(g * 1e6) for g in in_range}) > 200  # jitter, not a fixed step
    micros = {round(m.ts * 1e6) % 500 for m in messages}
    assert len(micros) > 400  # not a grid of half milliseconds


def test_periodic_bursts_arrive_a_few_milliseconds_late_and_dumps_drift() -> None:
    _, messages = run("5.x")
    amps = series(messages, "amp")
    late = [(t % 1.0) for t, _ in amps]
    spread_ms = (max(late) - min(late)) * 1000.0
    assert 5.0 < spread_ms < 60.0 or spread_ms > 940.0  # a late burst wraps past the second
    dumps = intervals(series(messages, "uptime"))
    steady = [d for d in dumps if d < 30.08]
    assert len(steady) > 0.95 * len(dumps)
    assert min(steady) > 29.95 and len({round(d, 3) for d in steady}) > 30


def test_modern_voltages_have_two_decimals_and_wander_slowly() -> None:
    sim, messages = run("5.x")
    payloads = [m.payload for m in messages if key_of(m) == "voltage"]
    assert payloads and all(re.fullmatch(rb"\d{3}(\.\d{1,2})?", p) for p in payloads)
    assert sum(len(p) == 6 for p in payloads) > 0.8 * len(payloads)  # trailing zeros dropped
    volts = [v for _, v in series(messages, "voltage")]
    steps = [abs(b - a) for a, b in pairwise(volts)]
    assert sorted(steps)[int(0.99 * len(steps))] < 0.5  # no white noise from one to the next
    assert max(volts) - min(volts) > 1.5  # but it does move over the day
    nominal = sim.plans[0].volts
    assert all(abs(v - nominal) < 6.0 for v in volts)
    legacy = [m.payload for m in run("2.x")[1] if key_of(m) == "volt"]
    assert legacy and all(p.isdigit() for p in legacy)


@pytest.mark.parametrize("firmware", ["4.1", "5.x"])
def test_power_is_amps_times_volts(firmware: str) -> None:
    _, messages = run(firmware)
    checked = decimals = 0
    for a, v, p in zip(messages, messages[1:], messages[2:], strict=False):
        if (key_of(a), key_of(v), key_of(p)) == ("amp", "voltage", "power"):
            assert float(p.payload) == pytest.approx(
                int(a.payload) * float(v.payload) / 1000.0, abs=1e-6
            )
            assert re.fullmatch(rb"\d+(\.\d{1,6})?", p.payload)
            checked += 1
            decimals += b"." in p.payload
    assert checked > 1000 and decimals > checked / 2
    assert all(m.payload.isdigit() for m in messages if key_of(m) == "amp")  # mA, integers


def test_temperatures_wander_rise_while_charging_and_say_false_when_absent() -> None:
    sim, messages = run("5.x")
    assert {m.payload for m in messages if key_of(m) in ("temp3", "temp4")} == {b"false"}
    assert all(re.fullmatch(rb"\d{3}(\.5)?", m.payload) for m in messages if key_of(m) == "temp1")
    temps = series(messages, "temp")
    assert all(100 <= v <= 700 and v == int(v) for _, v in temps)  # tenths of a degree
    steps = [abs(b - a) for (_, a), (_, b) in pairwise(temps)]
    assert max(steps) <= 8 and len({v for _, v in temps}) > 20
    # `temp` is the main sensor's reading (from the first whole dump: the journal began in the
    # middle of one)
    main_sensor = [v for t, v in series(messages, "temp2") if t >= temps[0][0]]
    assert main_sensor == [v for _, v in temps]
    long = max((c for p in sim.truth for c in p.cycles if c.ended_at), key=lambda c: c.energy_wh)
    assert long.ended_at is not None
    before = [v for t, v in temps if long.started_at - 900 < t < long.started_at]
    late = [v for t, v in temps if long.ended_at - 900 < t < long.ended_at]
    assert sum(late) / len(late) > sum(before) / len(before) + 30  # at least 3 degrees warmer


def test_signal_and_free_heap_wander() -> None:
    _, messages = run("5.x")
    for key, largest_step, least_range in (("srssi", 4, 3), ("freeram", 6000, 2000)):
        values = [int(m.payload) for m in messages if key_of(m) == key]
        assert max(abs(b - a) for a, b in pairwise(values)) <= largest_step, key
        assert max(values) - min(values) >= least_range, key


@pytest.mark.parametrize("firmware", ["4.1", "5.x"])
def test_modern_dumps_keep_the_firmware_key_order(firmware: str) -> None:
    _, messages = run(firmware)
    expected = DUMP_ORDER + (["wh"] if firmware == "4.1" else [])
    dumps = [
        [key_of(m) for m in b] for b in bursts(messages) if any(key_of(m) == "uptime" for m in b)
    ]
    assert len(dumps) > 2000
    exact = sum(keys == expected for keys in dumps)
    assert exact >= 0.97 * len(dumps)  # the others met a 1 s or 5 s burst on the way
    order = [k for k in expected if k in DUMP_ONLY]
    whole = dumps[1:]  # (the recording began in the middle of the first)
    assert all([k for k in keys if k in DUMP_ONLY] == order for keys in whole)


@pytest.mark.parametrize("firmware", ["3.x", "4.0"])
def test_rapi_dumps_keep_the_firmware_key_order(firmware: str) -> None:
    """3.x and 4.0-4.1.0 publish no session counter, no power and (3.x) no vehicle; amp and
    voltage come in every dump, and each second while charging from 4.0 on."""
    sim, messages = run(firmware)
    expected = RAPI_ORDER[firmware]
    dumps = [[key_of(m) for m in b] for b in bursts(messages) if key_of(b[0]) == "amp"]
    full = [keys for keys in dumps if len(keys) >= len(expected)]
    assert len(full) > 1000
    assert sum(keys == expected for keys in full) >= 0.97 * len(full)
    amps = series(messages, "amp")
    for plugin in closed_plugins(sim):
        for cycle in plugin.cycles:
            assert cycle.ended_at is not None
            inside = [t for t, _ in amps if cycle.started_at < t < cycle.ended_at]
            step = 1.5 if firmware == "4.0" else 31.0
            assert inside and max(b - a for a, b in pairwise(inside)) < step


@pytest.mark.parametrize("firmware", FIRMWARES)
def test_a_few_empty_and_binary_payloads_a_day_on_unprojected_topics(firmware: str) -> None:
    from projector.readings import PROJECTED_KEYS

    _, messages = run(firmware, days=3.0)
    empty = [m for m in messages if m.payload == b""]
    binary = [m for m in messages if not _is_text(m.payload)]
    assert 3 <= len(empty) <= 30 and 3 <= len(binary) <= 30
    assert not {key_of(m) for m in empty + binary} & set(PROJECTED_KEYS)
    assert not [m for m in messages if b"\n" in m.payload]  # one message per import line


def _is_text(payload: bytes) -> bool:
    try:
        return payload.decode("utf-8").isprintable()
    except UnicodeDecodeError:
        return False


# ---- the command --------------------------------------------------------------------------------


def cli(*args: str, config: Path | None = None, **kw) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "chargelog.cli"]
    if config is not None:
        command += ["--config", str(config)]
    return subprocess.run([*command, *args], capture_output=True, timeout=120, **kw)


SMALL = ["--start", "2026-01-05", "--days", "1", "--seed", "3", "--faults", "all"]


def test_cli_output_is_the_simulation() -> None:
    args = ["--chargers", "2", "--firmware", "2.x,2.x-lifetime", *SMALL]
    done = cli("simulate", *args, "--output", "-")
    assert done.returncode == 0, done.stderr
    parser = argparse.ArgumentParser()
    simulate_command.register(parser.add_subparsers())
    spec = simulate_command.build_spec(parser.parse_args(["simulate", *args, "--output", "-"]))
    expected = io.BytesIO()
    count = outputs.write_lines(simulate(spec).messages(), expected)
    assert done.stdout == expected.getvalue()
    assert f"simulated {count} messages" in done.stderr.decode()
    assert [ChargerSpec("openevse", "2.x"), ChargerSpec("openevse2", "2.x-lifetime")] == list(
        spec.chargers
    )


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--firmware", "3.9"], "unknown firmware '3.9'"),
        (["--faults", "pause,meteor"], "unknown fault 'meteor'"),
        (["--days", "0"], "must be more than 0"),
        (["--speed", "-1"], "0 (as fast as possible) or more"),
    ],
)
def test_cli_rejects_bad_options(args: list[str], error: str) -> None:
    done = cli("simulate", *args, "--output", "-")
    assert done.returncode == 2 and error in done.stderr.decode()


def test_output_file_imports_without_a_skipped_line(tmp_path: Path) -> None:
    capture, truth = tmp_path / "capture.txt", tmp_path / "truth.json"
    done = cli("simulate", *SMALL, "--output", str(capture), "--truth", str(truth))
    assert done.returncode == 0, done.stderr
    lines = capture.read_bytes().count(b"\n")
    assert lines > 10_000 and truth.stat().st_size > 0
    config = tmp_path / "import.ini"
    config.write_text(f"[database]\nurl = sqlite:///{tmp_path / 'journal.db'}\n")
    done = cli("import", str(capture), config=config)
    assert done.returncode == 0, done.stderr
    assert (
        f"imported {lines} new message(s) from {lines} line(s); 0 already in the journal; "
        "0 line(s) skipped"
    ) in done.stdout.decode()


def test_paced_publishing_follows_the_simulated_clock() -> None:
    messages = [SimMessage(1000.0 + i, "a/b", b"1") for i in range(3)]
    began = time.monotonic()
    assert list(outputs._paced(messages, speed=10.0)) == messages
    assert 0.19 <= time.monotonic() - began < 1.0


@pytest.mark.mqtt
@pytest.mark.timeout(60)
def test_publish_delivers_everything_to_the_broker(tmp_path: Path) -> None:
    import paho.mqtt.client as mqtt

    # QoS 0 is dropped, not queued, beyond the broker's queue limit if the counter lags.
    broker = PrivateBroker(tmp_path / "broker", persistence=False, extra="max_queued_messages 0\n")
    broker.start()
    received: list[tuple[str, bytes]] = []
    subscribed = threading.Event()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="sim-counter")
    sub.on_connect = lambda c, *a: c.subscribe("#", qos=0)
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.on_message = lambda c, u, m: received.append((m.topic, m.payload))
    try:
        sub.connect("127.0.0.1", broker.port)
        sub.loop_start()
        assert subscribed.wait(10)
        config = tmp_path / "publish.ini"
        config.write_text(f"[mqtt]\nhost = 127.0.0.1\nport = {broker.port}\n")
        args = ["--chargers", "2", "--firmware", "2.x,5.x", *SMALL[:2], "--days", "0.5"]
        args += ["--faults", "junk,duplicates,retained"]
        done = cli("simulate", *args, "--publish", "--speed", "0", config=config)
        assert done.returncode == 0, done.stderr
        count = int(done.stderr.decode().split("simulated ")[1].split()[0])
        assert count > 20_000
        deadline = time.monotonic() + 30
        while len(received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        assert len(received) == count
        assert (b"1" in {p for t, p in received if t.endswith("/vehicle")}) is True
    finally:
        sub.disconnect()
        release(sub)
        broker.stop()


def test_wh_of_4x_is_printed_as_arduinojson_prints_a_large_double() -> None:
    from simulator.render import _exponent

    assert _exponent(28622820.0) == b"2.862282e7"
    assert _exponent(12443651.0) == b"1.2443651e7"
    spelled: set[bytes] = set()
    for firmware in ("4.0", "4.1"):
        for seed in (1, 2, 3):
            messages = simulate(spec_for(firmware, seed=seed)).messages()
            spelled |= {m.payload for m in messages if key_of(m) == "wh"}
    large = {p for p in spelled if float(p) >= 1e7}
    assert large and spelled - large  # both kinds of charger came up
    assert all(re.fullmatch(rb"[1-9](\.[0-9]+)?e7", p) for p in large)
    assert all(re.fullmatch(rb"[1-9][0-9]*", p) for p in spelled - large)


@pytest.mark.parametrize("firmware", ["3.x", "5.x"])
def test_divert_chatter_outnumbers_everything_and_only_when_asked(firmware: str) -> None:
    _, quiet = run(firmware)
    assert not any(key_of(m) == "divert_update" for m in quiet)
    _, chatty = run(firmware, divert_interval=2.0)
    updates = [m for m in chatty if key_of(m) == "divert_update"]
    assert len(updates) == pytest.approx(DAYS * 86400 / 2.0, rel=0.1)
    assert len(chatty) > 2 * len(quiet)
    grid = [float(m.payload) for m in chatty if key_of(m) == "grid_ie"]
    assert min(grid) < 0 < max(grid)  # exporting and importing


def test_a_2x_charger_has_no_divert_events() -> None:
    _, messages = run("2.x", divert_interval=2.0)
    assert not any(key_of(m) == "divert_update" for m in messages)


@pytest.mark.parametrize("firmware", FIRMWARES)
def test_the_recording_begins_in_the_middle_of_a_dump(firmware: str) -> None:
    """As a recorder started at any moment does: the first dump's first keys are not there."""
    sim, messages = run(firmware)
    first = [key_of(m) for m in messages if m.ts - messages[0].ts < 0.05]
    assert 0 < len(first) < len({key_of(m) for m in messages if key_of(m) != "debug"})
    assert messages[0].ts >= sim.spec.start_ts
