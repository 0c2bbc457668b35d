"""The session state machine, table-driven: every situation in docs/openevse-mqtt.md, per
firmware generation. Expected values are what physically happened (the script's own energy)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from projector.fleet import Fleet
from tests.charge_script import GENERATIONS, Script, fed, run, summary

Scenario = Callable[[Script], None]
MODERN = ("5.x", "4.1")
SESSION_COUNTERS = ("5.x", "4.1", "2.x")


def plain(s: Script) -> None:
    s.idle(1, 1).plug().idle(1, 2).state(3).charge(60).state(2).idle(2, 2).unplug().idle(1, 1)


def pause(s: Script) -> None:
    s.idle(1, 1).plug().state(3).charge(30).state(254).idle(20, 254).state(3).charge(15)
    s.state(2).idle(1, 2).unplug()


def fault(s: Script) -> None:
    s.idle(1, 1).plug().state(3).charge(20).state(6).idle(1, 6).state(2).idle(1, 2)
    s.state(3).charge(10).state(2).unplug()


def never_charged(s: Script) -> None:
    s.idle(1, 1).plug().idle(30, 2).unplug().idle(1, 1)


def back_to_back(s: Script) -> None:
    s.idle(1, 1).plug().state(3).charge(30).state(2).unplug()
    s.idle(2, 1).plug().state(3).charge(20, 3600).state(2).unplug()


def starts_sleeping(s: Script) -> None:
    s.idle(1, 1).plug(state=254).idle(60, 254).state(3).charge(40).state(2).unplug()


def still_charging(s: Script) -> None:
    s.idle(1, 1).plug().state(3).charge(25)


# (name, scenario, generations, expected [(Wh, [(cycle Wh, end reason)])])
TABLE = [
    ("plain charge", plain, GENERATIONS, [(7200.0, [(7200.0, "stopped")])]),
    (
        "pause 3->254->3",
        pause,
        SESSION_COUNTERS,
        [(5400.0, [(3600.0, "paused"), (1800.0, "stopped")])],
    ),
    (
        "fault 3->6->2->3",
        fault,
        SESSION_COUNTERS,
        [(3600.0, [(2400.0, "fault"), (1200.0, "stopped")])],
    ),
    ("plugged, never charged", never_charged, GENERATIONS, [(0.0, [])]),
    (
        "two plug-ins back to back",
        back_to_back,
        GENERATIONS,
        [(3600.0, [(3600.0, "stopped")]), (1200.0, [(1200.0, "stopped")])],
    ),
    ("plug-in starting in 254", starts_sleeping, GENERATIONS, [(4800.0, [(4800.0, "stopped")])]),
    ("still charging at the end", still_charging, SESSION_COUNTERS, [(3000.0, [(3000.0, None)])]),
]


@pytest.mark.parametrize(
    ("scenario", "firmware", "expected"),
    [
        pytest.param(scenario, firmware, expected, id=f"{name}-{firmware}")
        for name, scenario, generations, expected in TABLE
        for firmware in generations
    ],
)
def test_scenarios(scenario: Scenario, firmware: str, expected: list) -> None:
    script = Script(firmware=firmware)
    scenario(script)
    got = summary(run(script.messages))
    assert [(wh, cycles) for _, wh, cycles in got] == expected


def test_lifetime_counter_puts_a_multi_cycle_session_on_its_last_cycle() -> None:
    """2.7.6+ `wh` grows only at unplug: the session total is right, the split is not knowable."""
    script = Script(firmware="2.x-lifetime")
    pause(script)
    ((_, wh, cycles),) = summary(run(script.messages))
    assert wh == 5400.0 and cycles == [(0.0, "paused"), (5400.0, "stopped")]
    changes = run(script.messages)
    assert all("legacy_counter" in c.flags for c in changes.cycles.values())


def test_open_session_and_cycle_have_no_end() -> None:
    script = Script()
    still_charging(script)
    changes = run(script.messages)
    (plugin,) = changes.plugins.values()
    (cycle,) = changes.cycles.values()
    assert plugin.unplugged_at is None and cycle.ended_at is None
    assert cycle.last_charging_at == round(script.t * 1_000_000) - 0  # the last reading


@pytest.mark.parametrize("firmware", MODERN)
@pytest.mark.parametrize("off_minutes", [1, 6], ids=["short", "longer-than-a-gap"])
def test_power_loss_with_counter_rollback(firmware: str, off_minutes: int) -> None:
    """Counters saved every 5 min come back lower after a power loss: the cycle ends `reboot`
    (also when the silence was long enough to be a gap), charging resumes as a new cycle, and
    counting resumes from the value restored."""
    s = Script(firmware=firmware)
    s.idle(1, 1).plug().state(3).charge(17)  # saved at 15 min: 1800 Wh; really 2040 Wh
    s.power_loss(off_minutes).state(3).charge(10).state(2).unplug()
    changes = run(s.messages)
    ((_, wh, cycles),) = summary(changes)
    assert cycles == [(2040.0, "reboot"), (1200.0, "stopped")]
    assert wh == 3240.0
    (plugin,) = changes.plugins.values()
    assert "reboot" in plugin.flags and plugin.unplugged_at is not None


@pytest.mark.parametrize("firmware", GENERATIONS)
def test_broker_gap_while_still_charging_flags_the_cycle(firmware: str) -> None:
    s = Script(firmware=firmware)
    s.idle(1, 1).plug().state(3).charge(20)
    s.messages_before_gap = len(s.messages)  # type: ignore[attr-defined]
    s.charge(10)  # charging goes on during the gap, but nothing reaches the broker
    del s.messages[s.messages_before_gap :]  # type: ignore[attr-defined]
    s.dump(3).charge(10).state(2).unplug()
    changes = run(s.messages)
    ((_, _, cycles),) = summary(changes)
    expected_wh = 7200.0 * 40 / 60 if firmware != "2.x-lifetime" else 4800.0
    assert cycles == [(expected_wh, "stopped")]
    (cycle,) = changes.cycles.values()
    assert cycle.flags["gap"] >= 590


@pytest.mark.parametrize("firmware", SESSION_COUNTERS)
def test_gap_after_which_it_no_longer_charges_ends_the_cycle_at_the_last_charging_moment(
    firmware: str,
) -> None:
    s = Script(firmware=firmware)
    s.idle(1, 1).plug().state(3).charge(20)
    last_charging = s.t
    seen = len(s.messages)
    s.charge(5)  # happens, unseen
    del s.messages[seen:]
    s.wait(600).dump(2).idle(1, 2).unplug()
    changes = run(s.messages)
    (cycle,) = changes.cycles.values()
    assert cycle.end_reason == "gap"
    assert cycle.ended_at is not None and cycle.ended_at <= round(last_charging * 1_000_000)
    # the increase reported after the gap belongs to the cycle that ended
    assert round(cycle.energy_wh, 1) == 3000.0


def test_session_energy_zero_before_state_1() -> None:
    """5.x may publish `session_energy 0` before the `state 1` of the unplug."""
    s = Script(firmware="5.x")
    s.idle(1, 1).plug().state(3).charge(30).state(2).idle(1, 2)
    s.send("session_energy", "0").wait(0.2)
    s.session_counter = 0.0
    s.unplug().idle(1, 1)
    ((_, wh, cycles),) = summary(run(s.messages))
    assert (wh, cycles) == (3600.0, [(3600.0, "stopped")])
    changes = run(s.messages)
    assert all(
        "counter_rollback" not in p.flags and "reboot" not in p.flags
        for p in changes.plugins.values()
    )


@pytest.mark.parametrize("firmware", GENERATIONS)
def test_duplicated_messages_change_nothing(firmware: str) -> None:
    s = Script(firmware=firmware)
    pause(s) if firmware != "2.x-lifetime" else plain(s)
    doubled = [m for m in s.messages for _ in range(2)]
    assert summary(run(doubled)) == summary(run(s.messages))


JUNK = [b"abc", b"", b"NaN", b"-1", b"1e308", b'{"session_energy": 5}', b"false", b"inf"]


def _charge_with(firmware: str, odd: list[tuple[str, bytes]]) -> tuple[list[Any], list[Any]]:
    """A plain charge's messages, and the same with these (key, payload) messages in its middle
    (key `counter`: the generation's session counter)."""
    clean, dirty = Script(firmware=firmware), Script(firmware=firmware)
    plain(clean)
    plain(dirty)
    middle = dirty.messages[len(dirty.messages) // 2][0]
    counter = "wh" if firmware == "2.x" else "session_energy"
    for index, (key, payload) in enumerate(odd):
        topic = f"{dirty.charger}/{counter if key == 'counter' else key}"
        dirty.messages.append((middle + index * 0.001, topic, payload, False))
    return clean.messages, dirty.messages


@pytest.mark.parametrize("firmware", SESSION_COUNTERS)
def test_junk_payloads_are_counted_and_ignored(firmware: str) -> None:
    odd = [(key, junk) for junk in JUNK for key in ("counter", "state", "vehicle")]
    clean, dirty = _charge_with(firmware, odd)
    assert summary(run(dirty)) == summary(run(clean))
    (plugin,) = run(dirty).plugins.values()
    assert plugin.flags["bad_values"] == len(JUNK) * 3


def test_charger_off_while_the_car_leaves() -> None:
    """No unplug seen: placed at the last moment the car was known connected; the next plug-in
    starts from the stale counter and is still counted right."""
    s = Script(firmware="5.x")
    s.idle(1, 1).plug().state(3).charge(30).state(2).idle(2, 2)
    last_connected = s.messages[-1][0]
    s.wait(3600)  # the charger is off; the car leaves; no reset happens
    s.uptime = 5.0
    s.car = False
    s.dump(1).idle(10, 1)  # boots with no car
    s.car = True
    s.send("state", "2").send("vehicle", "1").wait(5)  # a new plug-in, counter still at 3600
    s.state(3).charge(15).state(2).unplug()
    changes = run(s.messages)
    assert [(wh, c) for _, wh, c in summary(changes)] == [
        (3600.0, [(3600.0, "stopped")]),
        (1800.0, [(1800.0, "stopped")]),
    ]
    first = min(changes.plugins.values(), key=lambda p: p.id)
    assert "unplug_inferred" in first.flags
    assert first.unplugged_at == round(last_connected * 1_000_000)


@pytest.mark.parametrize("firmware", GENERATIONS)
def test_retained_replays_change_nothing(firmware: str) -> None:
    """A resubscribing recorder gets the broker's retained values, possibly hours old."""
    clean = Script(firmware=firmware)
    s = Script(firmware=firmware)
    for script in (clean, s):
        script.idle(1, 1)
    for key, value in (
        ("state", "3"),
        ("vehicle", "1"),
        ("session_energy", "9000"),
        ("wh", "5"),
        ("uptime", "1"),
    ):
        s.send(key, value, retained=True)  # while nothing is plugged
    for script in (clean, s):
        script.plug().state(3).charge(10)
    s.send("state", "1", retained=True).send("session_energy", "5", retained=True)
    s.send("wh", "999999", retained=True)
    for script in (clean, s):
        script.charge(10).state(2).unplug()
    assert summary(run(s.messages)) == summary(run(clean.messages))
    (plugin,) = run(s.messages).plugins.values()
    assert plugin.flags.get("retained_replay") == 1


def test_chargers_interleaved_are_independent() -> None:
    a = Script(firmware="5.x", charger="openevse-aaaa")
    pause(a)
    b = Script(firmware="2.x", charger="openevse")
    b.t = a.messages[0][0] + 7.5
    back_to_back(b)
    together = summary(run(a.messages + b.messages))
    assert sorted(together) == sorted(summary(run(a.messages)) + summary(run(b.messages)))
    assert {charger for charger, _, _ in together} == {"openevse-aaaa", "openevse"}


@pytest.mark.parametrize("firmware", GENERATIONS)
def test_checkpoint_through_json_anywhere_gives_the_same_records(firmware: str) -> None:
    s = Script(firmware=firmware)
    pause(s)
    whole = summary(run(s.messages))
    for split in range(0, len(s.messages), max(1, len(s.messages) // 17)):
        assert summary(run(s.messages, split=split)) == whole


# Readings Python's float() takes but the firmware never writes: each is counted as bad, never
# read (`-0` as a counter was a reset; as a state, a reboot).
NOT_FIRMWARE = [b"-0", b" 3 ", b"+3", b"007", b"1_000", b"3\n", b"0x10", b".5"]


@pytest.mark.parametrize("firmware", SESSION_COUNTERS)
def test_numbers_only_in_the_firmwares_spelling(firmware: str) -> None:
    odd = [(key, junk) for junk in NOT_FIRMWARE for key in ("counter", "state", "vehicle")]
    odd += [("state", b"3.0"), ("vehicle", b"1.0"), ("state", b"3e0")]  # states are integers
    clean, dirty = _charge_with(firmware, odd)
    assert summary(run(dirty)) == summary(run(clean))
    (plugin,) = run(dirty).plugins.values()
    assert plugin.flags["bad_values"] == len(odd)


@pytest.mark.parametrize("firmware", MODERN)
def test_exponent_readings_are_read(firmware: str) -> None:
    """Real dumps carry `2.862282e7`: the same charge written that way is the same charge."""
    s = Script(firmware=firmware)
    plain(s)
    counters = ("/session_energy", "/total_energy")
    exponent = [
        (t, topic, b"%.15e" % float(payload) if topic.endswith(counters) else payload, kept)
        for t, topic, payload, kept in s.messages
    ]
    assert exponent != s.messages
    assert summary(run(exponent)) == summary(run(s.messages))
    (plugin,) = run(exponent).plugins.values()
    assert "bad_values" not in plugin.flags


@pytest.mark.parametrize("firmware", SESSION_COUNTERS)
@pytest.mark.parametrize("split", [None, "after the stray value"])
def test_one_stray_zero_mid_charge_is_no_reset(firmware: str, split: str | None) -> None:
    """A lone `0` between two real readings: before, the next reading was counted again from 0
    (a 7.2 kWh charge showed 10.8 kWh). The stream around it says it was no reset."""
    clean = Script(firmware=firmware)
    plain(clean)
    dirty = Script(firmware=firmware)
    plain(dirty)
    key = "wh" if firmware == "2.x" else "session_energy"
    counts = [i for i, m in enumerate(dirty.messages) if m[1].endswith("/" + key)]
    at = counts[len(counts) // 2]
    dirty.messages.insert(
        at + 1, (dirty.messages[at][0] + 0.5, f"{dirty.charger}/{key}", b"0", False)
    )
    index = (at + 2) if split else None  # a checkpoint while the drop is undecided
    assert summary(run(dirty.messages, split=index)) == summary(run(clean.messages))
    (plugin,) = run(dirty.messages, split=index).plugins.values()
    assert plugin.flags["bad_values"] == 1


@pytest.mark.parametrize("firmware", ("5.x", "4.1"))
def test_a_counter_that_restarts_from_zero_mid_charge_is_counted_from_zero(firmware: str) -> None:
    """The stream agrees with the drop: the next readings start low and grow."""
    s = Script(firmware=firmware)
    s.idle(1, 1).plug().state(3).charge(30)
    s.session_counter = 0.0  # the firmware restarts its session counter and goes on charging
    s.send("session_energy", "0").charge(30).state(2).unplug()
    (row,) = summary(run(s.messages))
    assert row[1] == pytest.approx(7200.0)
    (plugin,) = run(s.messages).plugins.values()
    assert "bad_values" not in plugin.flags


@pytest.mark.parametrize("firmware", MODERN)
def test_a_journal_that_starts_asleep_with_no_car_opens_no_plug_in(firmware: str) -> None:
    """A 4.x/5.x dump publishes `state` before `vehicle`: `state 254` then `vehicle 0` a moment
    later is a sleeping charger with no car, not a 0-second plug-in."""
    s = Script(firmware=firmware)
    s.dump(254).idle(30, 254)  # the journal's first messages: asleep, no car
    s.state(1).idle(1, 1)
    plain(s)
    assert [(wh, cycles) for _, wh, cycles in summary(run(s.messages))] == [
        (7200.0, [(7200.0, "stopped")])
    ]


@pytest.mark.parametrize("firmware", MODERN)
def test_a_journal_that_starts_asleep_with_a_car_begins_its_plug_in_there(firmware: str) -> None:
    s = Script(firmware=firmware)
    s.car = True
    first = s.t
    s.dump(254).idle(10, 254).state(3).charge(30).state(2).unplug()
    changes = run(s.messages)
    (plugin,) = changes.plugins.values()
    assert plugin.plugged_at == round(first * 1_000_000)
    assert [(wh, cycles) for _, wh, cycles in summary(changes)] == [(3600.0, [(3600.0, "stopped")])]


def test_a_charger_without_vehicle_asleep_is_taken_as_connected() -> None:
    """2.x sends no `vehicle`: sleeping counts as connected, as before, once its dump is over."""
    s = Script(firmware="2.x")
    first = s.t
    s.dump(254).idle(10, 254).state(3).charge(30).state(2).unplug()
    changes = run(s.messages, split=1)  # a checkpoint while the plug-in is undecided
    (plugin,) = changes.plugins.values()
    assert plugin.plugged_at == round(first * 1_000_000)
    assert [(wh, cycles) for _, wh, cycles in summary(changes)] == [(3600.0, [(3600.0, "stopped")])]


def test_a_recorder_clock_set_back_is_flagged() -> None:
    """Receive times that run backwards an hour: the energy is still right, the duration can
    only shrink to 0, never below, and the session says why."""
    s = Script(firmware="5.x")
    s.idle(1, 1).plug().state(3).charge(30)
    s.t -= 3600  # the recorder's clock set back an hour
    s.charge(30).state(2).unplug()
    changes = run(s.messages, in_order=True)
    (plugin,) = changes.plugins.values()
    (cycle,) = changes.cycles.values()
    assert cycle.energy_wh == pytest.approx(7200.0)
    assert 3600 - 5 <= plugin.flags["clock_jump"] <= 3600
    assert 3600 - 5 <= cycle.flags["clock_jump"] <= 3600
    assert cycle.ended_at >= cycle.started_at
    assert plugin.unplugged_at is not None and plugin.unplugged_at >= plugin.plugged_at


def test_a_steady_clock_raises_no_clock_flag() -> None:
    s = Script(firmware="5.x")
    pause(s)
    for plugin in run(s.messages).plugins.values():
        assert "clock_jump" not in plugin.flags


@pytest.mark.parametrize("firmware", MODERN)
def test_after_a_silence_a_sleeping_charger_without_the_car_ends_the_plug_in_before_it(
    firmware: str,
) -> None:
    """What `vehicle 1` said before a long silence is stale after it: the charger waking up
    asleep with no car ends the plug-in at the last moment the car was known connected."""
    s = Script(firmware=firmware)
    s.idle(1, 1).plug().state(3).charge(30).state(254).idle(5, 254)
    last_known = s.messages[-1][0]
    s.wait(2 * 3600)  # the recorder heard nothing for two hours; the car left meanwhile
    s.car = False
    s.dump(254).idle(5, 254)
    changes = run(s.messages)
    (plugin,) = changes.plugins.values()
    assert "unplug_inferred" in plugin.flags
    assert plugin.unplugged_at == round(last_known * 1_000_000)


@pytest.mark.parametrize("firmware", MODERN)
def test_after_a_silence_the_car_still_there_continues_the_plug_in(firmware: str) -> None:
    s = Script(firmware=firmware)
    s.idle(1, 1).plug().state(3).charge(30).state(254).idle(5, 254)
    s.wait(2 * 3600)
    s.dump(254).idle(5, 254).state(3).charge(30).state(2).unplug()
    changes = run(s.messages)
    (plugin,) = changes.plugins.values()
    assert "unplug_inferred" not in plugin.flags
    assert [(wh, [c for c, _ in cycles]) for _, wh, cycles in summary(changes)] == [
        (7200.0, [3600.0, 3600.0])
    ]


def test_two_devices_under_one_base_are_detected() -> None:
    """Two units left on one base topic: their uptimes interleave (each dump jumps between the
    two series). That is no reboot after reboot but a second device, flagged."""
    a = Script(firmware="5.x", charger="openevse")
    b = Script(firmware="5.x", charger="openevse", t=a.t + 7.0)
    a.uptime, b.uptime = 500_000.0, 1_000.0
    a.idle(10, 1).plug().idle(5, 2).state(3).charge(30).state(2).idle(10, 2).unplug().idle(10, 1)
    b.car = True  # (its dumps, `state 2` and `vehicle 1`, do not deny the other's plug-in)
    b.idle(70, 2)
    fleet = fed(a.messages + b.messages)
    machine = fleet.machines["openevse"]
    assert machine.two_devices >= 10
    assert any("two_devices" in p.flags for p in fleet.drain().plugins.values())
    restored = Fleet.from_json(fleet.to_json())
    assert restored.machines["openevse"].two_devices == machine.two_devices


@pytest.mark.parametrize("firmware", ["2.x", "2.x-lifetime", "3.x"])
def test_two_units_without_uptime_under_one_base_are_detected(firmware: str) -> None:
    """Two 2.x units left on the default base `openevse`, one idle, one charging: with no
    uptime to tell them apart, their dumps make the state go back and forth every 15 s."""
    a = Script(firmware=firmware, charger="openevse")
    b = Script(firmware=firmware, charger="openevse", t=a.t + 15.0)
    a.idle(60, 1)
    b.idle(1, 1).plug().state(3).idle(55, 3)  # (its dumps say `state 3`)
    fleet = fed(a.messages + b.messages)
    machine = fleet.machines["openevse"]
    assert machine.two_devices >= 10
    restored = Fleet.from_json(fleet.to_json())
    assert restored.machines["openevse"].flip == machine.flip


@pytest.mark.parametrize("firmware", ["5.x", "2.x", "3.x"])
def test_pauses_and_faults_are_not_a_second_device(firmware: str) -> None:
    s = Script(firmware=firmware)
    for _ in range(4):
        s.idle(1, 1).plug().state(3).charge(2).state(254).idle(1, 254).state(3).charge(2)
        s.state(6).idle(0.5, 6).state(3).charge(1).state(2).unplug()
    fleet = fed(s.messages)
    assert fleet.machines[s.charger].two_devices == 0


def test_a_reboot_is_not_a_second_device() -> None:
    s = Script(firmware="5.x")
    s.idle(1, 1).plug().state(3).charge(20).power_loss(3).state(3).charge(20).state(2)
    s.idle(30, 2).unplug().idle(30, 1)
    fleet = Fleet()
    for index, (t, topic, payload, retained) in enumerate(s.messages):
        fleet.feed(index + 1, round(t * 1_000_000), topic, payload, retained)
    assert fleet.machines[s.charger].two_devices == 0
    (plugin,) = fleet.drain().plugins.values()
    assert "reboot" in plugin.flags and "two_devices" not in plugin.flags


def _stale_burst(s: Script, energy: float) -> None:
    """What a capture tool that reconnects is handed first: the broker's retained values from an
    old charge, with no retained flag once they are in an import file."""
    s.send("state", "3")
    if s.modern:
        s.send("vehicle", "1")
        s.send("session_energy", f"{energy:.1f}")
        s.send("total_energy", f"{(s.lifetime - energy - 5000) / 1000:.4f}")
        s.send("uptime", f"{s.uptime / 3:.0f}")
    else:
        s.send("wh", f"{energy * 3600:.0f}")


@pytest.mark.parametrize("firmware", ["5.x", "4.1", "2.x"])
@pytest.mark.parametrize("where", ["journal_start", "between_dumps"])
def test_a_stale_burst_without_its_retained_flag_makes_no_session(
    firmware: str, where: str
) -> None:
    """A burst of old values (`state 3`, `vehicle 1`, an old session's 21 kWh) that the next
    dump of the live charger denies within 30 s was never a plug-in: no session, no energy, and
    no second device for the replayed uptime."""
    s = Script(firmware=firmware)
    if where == "between_dumps":
        s.idle(1, 1).plug().state(3).charge(10).state(2).unplug().idle(5, 1)
    s.wait(12)
    _stale_burst(s, 21_000.0)
    s.wait(18).dump(1)  # the live charger's next dump
    s.idle(10, 1)
    fleet = Fleet()
    for index, (t, topic, payload, retained) in enumerate(s.messages):
        fleet.feed(index + 1, round(t * 1_000_000), topic, payload, retained)
    plugins = list(fleet.drain().plugins.values())
    assert len(plugins) == (1 if where == "between_dumps" else 0)
    assert sum(p.energy_wh for p in plugins) == pytest.approx(1200.0 if plugins else 0.0, abs=1)
    machine = fleet.machines[s.charger]
    assert machine.replays == 1 and machine.two_devices == 0
    assert all("two_devices" not in p.flags for p in plugins)


@pytest.mark.parametrize("firmware", ["5.x", "2.x"])
def test_a_short_plug_in_past_the_replay_window_is_kept(firmware: str) -> None:
    """Only time confirms a plug-in: one of a minute is kept; one unplugged within 45 s,
    which a replay burst cannot be told from, is not a session."""
    s = Script(firmware=firmware)
    s.idle(1, 1).plug().idle(1, 2).unplug().idle(2, 1)
    (plugin,) = run(s.messages).plugins.values()
    assert plugin.unplugged_at is not None and not plugin.tentative
    brief = Script(firmware=firmware)
    brief.idle(1, 1).plug().idle(0.5, 2).unplug().idle(2, 1)
    assert run(brief.messages).plugins == {}


def test_two_replays_in_a_row_do_not_vouch_for_each_other() -> None:
    """A capture tool that reconnects twice within 30 s is handed the same stale burst twice:
    still no session."""
    s = Script(firmware="5.x")
    s.idle(2, 1).wait(5)
    _stale_burst(s, 21_000.0)
    s.wait(20)
    _stale_burst(s, 21_000.0)
    s.wait(4).dump(1)
    s.idle(5, 1)
    assert run(s.messages).plugins == {}


def test_a_denied_plug_in_survives_a_checkpoint_in_its_middle() -> None:
    s = Script(firmware="5.x")
    s.idle(1, 1).plug().state(3).charge(10).state(2).unplug().idle(5, 1).wait(12)
    _stale_burst(s, 21_000.0)
    s.wait(18).dump(1)
    s.idle(3, 1)
    burst = next(i for i, m in enumerate(s.messages) if m[2] == b"21000.0")
    whole, split = run(s.messages), run(s.messages, split=burst + 1)
    assert summary(split) == summary(whole) == [(s.charger, 1200.0, [(1200.0, "stopped")])]


def test_a_2x_dump_that_repeats_its_sleeping_state_still_opens_the_plug_in() -> None:
    """2.x publishes `state` at once on a change and again at the end of its dump: a car
    plugged into a sleeping charger (no `vehicle` on 2.x) is still a plug-in from the first."""
    s = Script(firmware="2.x")
    s.idle(1, 1).wait(30)
    asleep_at = s.t
    s.send("state", "254").wait(0.3).counters().send("state", "254")
    s.idle(3, 254).state(3).charge(10).state(2).unplug()
    (plugin,) = run(s.messages).plugins.values()
    assert plugin.plugged_at == round(asleep_at * 1_000_000)


@pytest.mark.parametrize("firmware", ["5.x", "4.1", "2.x"])
def test_charging_inside_a_silence_gets_an_estimated_time(firmware: str) -> None:
    """The recorder heard nothing while the car charged on for 10 minutes and stopped: the
    cycle ends at the last moment it was heard charging, but its charging time includes what
    the 1.2 kWh shown after the silence needs at its own 7.2 kW (never 0 minutes for it)."""
    s = Script(firmware=firmware)
    s.idle(1, 1).plug().state(3).charge(20)
    seen = len(s.messages)
    s.charge(10).state(2)  # happens, unseen
    del s.messages[seen:]
    s.wait(600).dump(2).idle(1, 2).unplug()
    changes = run(s.messages)
    (cycle,) = changes.cycles.values()
    (plugin,) = changes.plugins.values()
    assert cycle.end_reason == "gap" and round(cycle.energy_wh) == 3600
    assert cycle.flags["charging_estimated"] == pytest.approx(600, abs=2)
    assert cycle.duration_us() / 1e6 == pytest.approx(30 * 60, abs=40)
    assert plugin.charging_us / 1e6 == pytest.approx(30 * 60, abs=40)
    assert "charging_estimated" in plugin.flags
