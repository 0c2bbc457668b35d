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
