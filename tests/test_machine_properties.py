"""Properties of the state machine over generated charging histories (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.charge_script import GENERATIONS, Script, run, summary

STEPS = st.lists(
    st.sampled_from(["charge", "pause", "fault", "stop", "idle", "unplug", "plug"]),
    min_size=1,
    max_size=12,
)


def build(firmware: str, steps: list[str], minutes: list[int]) -> tuple[Script, float]:
    """A physically consistent history; returns it with the energy really delivered."""
    s = Script(firmware=firmware)
    s.idle(1, 1)
    plugged, state, delivered = False, 1, 0.0
    for step, length in zip(steps, minutes, strict=False):
        if step == "plug" and not plugged:
            s.plug()
            plugged, state = True, 2
        elif step == "charge" and plugged:
            if state != 3:
                s.state(3)
                state = 3
            s.charge(length)
            delivered += 7200.0 * length / 60
        elif step in ("pause", "fault", "stop") and plugged and state == 3:
            state = {"pause": 254, "fault": 6, "stop": 2}[step]
            s.state(state).idle(1, state)
            if step == "fault":
                s.state(2)
                state = 2
        elif step == "unplug" and plugged:
            s.unplug()
            plugged, state = False, 1
        else:
            s.idle(1, state)
    if plugged:
        if state == 3:
            s.state(2)
        s.idle(1, 2).unplug()
    s.idle(1, 1)
    return s, delivered


HISTORIES = st.tuples(
    st.sampled_from(GENERATIONS), STEPS, st.lists(st.integers(1, 40), min_size=12, max_size=12)
)


@settings(max_examples=60, deadline=None)
@given(history=HISTORIES)
def test_every_delivered_wh_is_counted_once(history: tuple[str, list[str], list[int]]) -> None:
    s, delivered = build(*history)
    sessions = summary(run(s.messages))
    assert round(sum(wh for _, wh, _ in sessions), 1) == round(delivered, 1)
    for _, wh, cycles in sessions:
        assert round(sum(c for c, _ in cycles), 1) == wh


@settings(max_examples=60, deadline=None)
@given(history=HISTORIES, data=st.data())
def test_duplicating_any_messages_changes_nothing(
    history: tuple[str, list[str], list[int]], data: st.DataObject
) -> None:
    s, _ = build(*history)
    chosen = data.draw(st.sets(st.integers(0, len(s.messages) - 1), max_size=len(s.messages)))
    doubled = [m for i, m in enumerate(s.messages) for _ in range(2 if i in chosen else 1)]
    assert summary(run(doubled)) == summary(run(s.messages))


@settings(max_examples=60, deadline=None)
@given(history=HISTORIES, data=st.data())
def test_a_checkpoint_anywhere_changes_nothing(
    history: tuple[str, list[str], list[int]], data: st.DataObject
) -> None:
    s, _ = build(*history)
    split = data.draw(st.integers(0, len(s.messages)))
    assert summary(run(s.messages, split=split)) == summary(run(s.messages))


LIFETIME_KEYS = {"total_energy": 1000.0, "wh": 1.0}


def _lifetime_before(messages: list, firmware: str) -> float:
    """The lifetime meter the last message before a point showed (Wh), or 0."""
    key = "total_energy" if firmware in ("5.x", "4.1") else "wh"
    for _, topic, payload, _ in reversed(messages):
        if topic.endswith("/" + key):
            return float(payload) * LIFETIME_KEYS[key]
    return 0.0


def _session_counter_before(messages: list, firmware: str) -> float:
    """The session counter the last message before a point showed (Wh), or 0."""
    key, scale = ("session_energy", 1.0) if firmware in ("5.x", "4.1") else ("wh", 1 / 3600)
    for _, topic, payload, _ in reversed(messages):
        if topic.endswith("/" + key):
            return float(payload) * scale
    return 0.0


def _first_unplug(messages: list) -> int:
    """The index just after the first `state 1` that follows a charge (`state 3`): where a
    lifetime `wh` has first moved and its unit is known."""
    charged = False
    for index, (_, topic, payload, _) in enumerate(messages):
        if topic.endswith("/state"):
            if payload == b"3":
                charged = True
            elif payload == b"1" and charged:
                return index + 1
    return len(messages)


def _burst(firmware: str, charger: str, t: float, energy: float, lifetime: float) -> list:
    """A stale replay as an import file holds it (no retained flag): an old charge's values,
    among them the lifetime meter as it was then (lower than now: it only grows)."""
    items = [("state", b"3")]
    if firmware in ("5.x", "4.1"):
        items += [("vehicle", b"1"), ("session_energy", b"%.1f" % energy)]
        items += [("total_energy", b"%.4f" % (lifetime / 1000)), ("uptime", b"%d" % (energy / 3))]
    elif firmware == "2.x":
        items += [("wh", b"%d" % (energy * 3600))]
    else:
        items += [("wh", b"%d" % lifetime)]
    return [
        (t + n / 1000, f"{charger}/{key}", value, False) for n, (key, value) in enumerate(items)
    ]


@settings(max_examples=300, deadline=None)
@given(history=HISTORIES, data=st.data())
def test_replay_bursts_anywhere_never_add_energy(
    history: tuple[str, list[str], list[int]], data: st.DataObject
) -> None:
    """Stale values replayed anywhere (an old session's counter, an old lifetime meter) count
    no energy: the sessions never total more than was delivered. Each burst falls between two
    live messages (or among those of one dump). An old counter is believed only when its rise
    is physically possible (under 50 kW over the charging seconds since the last reading, or
    1.5 times the cycle's own peak once it has one, until the next reading confirms it), and a
    drop waits for the next reading: the bursts carry an old session's counter below the live
    one (100 Wh and more: less, at a plug-in, reads as its first seconds), or 1 kWh and more
    above it. (One less than 1 kWh above the live counter, replayed in
    the middle of a charge, reads as a reading: no look-ahead of one reading can tell.)"""
    s, delivered = build(*history)
    firmware, messages = history[0], list(s.messages)
    for _ in range(data.draw(st.integers(1, 3))):
        # (A lifetime `wh` whose unit is not decided yet, before its first charge ends, cannot be
        # told from 2.x's watt-seconds reset at plug-in by one stale value inside that very
        # plug-in: the README's limits. Bursts come after it there.)
        first = _first_unplug(messages) if firmware == "2.x-lifetime" else 1
        if first >= len(messages):
            break
        at = data.draw(st.integers(first, len(messages) - 1))
        live = _session_counter_before(  # the live stream's, not an earlier burst's
            [m for m in s.messages if m[0] < messages[at][0]], firmware
        )
        older = data.draw(st.booleans()) and live >= 100
        energy = data.draw(st.floats(100, live) if older else st.floats(live + 1000, live + 30_000))
        lifetime = _lifetime_before([m for m in s.messages if m[0] < messages[at][0]], firmware)
        lifetime *= data.draw(st.floats(0.5, 1.0))
        between = (messages[at - 1][0] + messages[at][0]) / 2  # between two live messages
        messages[at:at] = _burst(firmware, s.charger, between, energy, lifetime)
    total = sum(wh for _, wh, _ in summary(run(messages)))
    assert total <= delivered + 0.1


@settings(max_examples=300, deadline=None)
@given(history=HISTORIES, data=st.data())
def test_silences_anywhere_never_add_energy(
    history: tuple[str, list[str], list[int]], data: st.DataObject
) -> None:
    """Messages lost anywhere (the recorder, the broker or the network away) never make the
    sessions total more than was delivered."""
    s, delivered = build(*history)
    start = data.draw(st.integers(0, len(s.messages) - 1))
    end = data.draw(st.integers(start, len(s.messages)))
    messages = s.messages[:start] + s.messages[end:]
    total = sum(wh for _, wh, _ in summary(run(messages)))
    assert total <= delivered + 0.1
