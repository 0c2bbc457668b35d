"""Chargers with no counter that moves while charging (ESP32 WiFi 3.x, 4.0 to 4.1.0: lifetime
`wh` only, which grows at the unplug): their energy is integrated from `amp` and `voltage`,
flagged `energy_estimated`, until the lifetime counter moves and replaces the estimate."""

from __future__ import annotations

import pytest

from journal.storage import Store
from projector.fleet import Fleet
from tests.charge_script import NO_SESSION_COUNTER, Script, run, summary
from tests.test_sealed_journal import projection

US = 1_000_000


def _charge_and_pause(s: Script) -> None:
    s.idle(1, 1).plug().state(3).charge(30).state(254).idle(20, 254).state(3).charge(15)
    s.state(2).idle(1, 2)


@pytest.mark.parametrize("firmware", NO_SESSION_COUNTER)
def test_a_charge_under_way_shows_its_energy_estimated(firmware: str) -> None:
    s = Script(firmware=firmware)
    s.idle(1, 1).plug().state(3).charge(25)
    changes = run(s.messages)
    (plugin,) = changes.plugins.values()
    (cycle,) = changes.cycles.values()
    assert plugin.energy_wh == pytest.approx(3000.0, rel=0.01)
    assert cycle.energy_wh == pytest.approx(plugin.energy_wh)
    assert plugin.flags["energy_estimated"] == round(plugin.energy_wh)
    assert cycle.flags["energy_estimated"] == round(cycle.energy_wh)
    assert cycle.peak_power_w == pytest.approx(7200.0, rel=0.001)


@pytest.mark.parametrize("firmware", NO_SESSION_COUNTER)
def test_the_lifetime_counter_at_the_unplug_replaces_the_estimate(firmware: str) -> None:
    """The counter's rise is the session's energy, to the Wh; the cycles share it as their
    estimates did (which the counter alone could never split)."""
    s = Script(firmware=firmware)
    _charge_and_pause(s)
    before = summary(run(s.messages))
    ((_, estimated, _),) = before
    assert estimated == pytest.approx(5400.0, rel=0.01)
    s.unplug().idle(1, 1)
    changes = run(s.messages)
    ((_, wh, cycles),) = summary(changes)
    assert wh == 5400.0
    assert [c for c, _ in cycles] == pytest.approx([3600.0, 1800.0], rel=0.01)
    assert sum(c for c, _ in cycles) == pytest.approx(5400.0)
    assert [reason for _, reason in cycles] == ["paused", "stopped"]
    for record in (*changes.plugins.values(), *changes.cycles.values()):
        assert "energy_estimated" not in record.flags
        assert "legacy_counter" in record.flags


@pytest.mark.parametrize("firmware", NO_SESSION_COUNTER)
def test_an_unplug_the_counter_never_showed_keeps_the_estimate(firmware: str) -> None:
    """A power cut ends the session unseen: no counter reading will ever tell its energy, so
    the estimate stays, flagged."""
    s = Script(firmware=firmware)
    s.idle(1, 1).plug().state(3).charge(20).state(2).idle(1, 2)
    s.wait(3600)  # the charger is off; the car leaves meanwhile
    s.car = False
    s.send("state", "0").wait(2).idle(2, 1)
    changes = run(s.messages)
    (plugin,) = changes.plugins.values()
    assert plugin.closed and "unplug_inferred" in plugin.flags
    assert plugin.energy_wh == pytest.approx(2400.0, rel=0.01)
    assert "energy_estimated" in plugin.flags


@pytest.mark.parametrize("firmware", NO_SESSION_COUNTER)
def test_the_estimate_survives_a_checkpoint_anywhere(firmware: str) -> None:
    s = Script(firmware=firmware)
    _charge_and_pause(s)
    s.unplug().idle(1, 1)
    whole = summary(run(s.messages))
    for split in range(1, len(s.messages), 7):
        assert summary(run(s.messages, split=split)) == whole, split


@pytest.mark.parametrize("firmware", ["5.x", "4.1", "2.x"])
def test_a_charger_with_a_session_counter_ignores_amp_and_voltage(firmware: str) -> None:
    """Its counter tells the energy: amp and voltage (sent here as the older firmwares do)
    change nothing, and the replay may skip them from the moment the counter is known."""
    s = Script(firmware=firmware)
    s.idle(1, 1).plug().state(3).charge(30).state(2).unplug()
    plain = summary(run(s.messages))
    noisy = [
        *s.messages,
        *((t + 0.5, f"{s.charger}/amp", b"99000", False) for t, *_ in s.messages[::3]),
        *((t + 0.6, f"{s.charger}/voltage", b"250", False) for t, *_ in s.messages[::3]),
    ]
    assert summary(run(noisy)) == plain
    ((_, wh, _),) = plain
    assert wh == 3600.0


def test_the_replay_skips_amp_and_voltage_only_of_chargers_that_need_them_not() -> None:
    modern, old = Script(firmware="5.x", charger="a"), Script(firmware="3.x", charger="b")
    for s in (modern, old):
        s.idle(1, 1).plug().state(3).charge(10)
    fleet = Fleet(names={"garage-old": "a"})
    assert fleet.skipped_topics() == frozenset()
    messages = sorted(modern.messages + old.messages, key=lambda m: m[0])
    for seq, (t, topic, payload, retained) in enumerate(messages, start=1):
        fleet.feed(seq, round(t * US), topic, payload, retained)
    skipped = fleet.skipped_topics()
    assert {"a/amp", "a/voltage", "a/volt", "garage-old/amp"} <= skipped
    assert not {t for t in skipped if t.startswith("b/")}
    assert fleet.machines["b"].needs_power and not fleet.machines["a"].needs_power


@pytest.mark.parametrize("firmware", ["3.x", "4.0", "5.x"])
def test_divert_chatter_changes_no_session(firmware: str) -> None:
    """Solar divert publishes ten topics every few seconds under the charger's base, `voltage`
    among them (tripled on a three-phase site): the sessions stay what they were."""
    from datetime import UTC, datetime

    from simulator.traffic import ChargerSpec, SimulationSpec, simulate

    def sessions(divert: float | None) -> list[tuple[int, float]]:
        spec = SimulationSpec(
            (ChargerSpec("openevse-d1v7", firmware),),
            datetime(2026, 1, 5, tzinfo=UTC),
            3,
            seed=5,
            divert_interval=divert,
        )
        fleet = Fleet()
        for seq, m in enumerate(simulate(spec).messages(), start=1):
            fleet.feed(seq, round(m.ts * US), m.topic, m.payload, m.retained)
        plugins = sorted(fleet.drain().plugins.values(), key=lambda p: p.plugged_at)
        return [(p.plugged_at // US, p.energy_wh) for p in plugins]

    quiet, chatty = sessions(None), sessions(1.5)
    assert len(quiet) == len(chatty) > 2
    for (at, wh), (at2, wh2) in zip(quiet, chatty, strict=True):
        assert at == at2
        assert wh2 == pytest.approx(wh, rel=0.005)


def _journal_of_three_generations(store: Store) -> None:
    from datetime import UTC, datetime

    from journal import entries
    from journal.entries import micros_text
    from simulator.traffic import ChargerSpec, SimulationSpec, parse_faults, simulate

    spec = SimulationSpec(
        (
            ChargerSpec("openevse-aa11", "3.x"),
            ChargerSpec("openevse-bb22", "4.0"),
            ChargerSpec("openevse-ab12", "5.x"),
        ),
        datetime(2026, 1, 5, tzinfo=UTC),
        4,
        seed=2,
        faults=parse_faults("all"),
        telemetry_interval=5.0,
    )
    rows = [
        (micros_text(round(m.ts * US)), m.topic, m.payload, 0, int(m.retained))
        for m in simulate(spec).messages()
    ]
    for start in range(0, len(rows), 50_000):
        entries.append(store, rows[start : start + 50_000])
        store.commit()


def test_passes_in_any_steps_sealed_or_not_give_a_rebuild_s_records(store: Store) -> None:
    """The replay leaves out amp and voltage of chargers that need them not, deciding as it
    reads: passes cut anywhere, a rebuild from live rows and one from sealed segments all give
    the same sessions, and the 3.x/4.0 chargers' energy is there."""
    from journal import sealing
    from journal.reader import last_seq
    from projector.readings import PROJECTED_KEYS
    from projector.rebuild import rebuild
    from projector.runner import project_pass

    _journal_of_three_generations(store)
    while project_pass(store, max_entries=7_919).entries:
        pass
    stepped = projection(store)
    plugins, _ = stepped
    by_charger = {c: sum(float(p[4]) for p in plugins if p[1] == c) for _, c, *_ in plugins}
    assert min(by_charger.values()) > 5_000 and len(by_charger) == 3
    rebuild(store)
    assert projection(store) == stepped
    sealing.seal(store, position=last_seq(store), before_us=2**62, replayed_keys=PROJECTED_KEYS)
    store.commit()
    assert store.query_one("SELECT COUNT(*) FROM journal") == (0,)
    store.rollback()
    rebuild(store)
    assert projection(store) == stepped


@pytest.mark.parametrize("firmware", NO_SESSION_COUNTER)
def test_the_lifetime_wh_closes_the_books_and_a_reboot_s_loss_is_a_rollback(firmware: str) -> None:
    """The lifetime `wh` is the meter of these chargers: each closed session's meter readings
    are its counter's, and the month's books close. A power cut mid-charge loses the
    controller's session so far (it reaches the lifetime counter only at the unplug): those
    cycles keep their estimate, and the books explain it as the meter going back by it."""
    from tests.test_books import ledger_totals

    s = Script(firmware=firmware)
    s.idle(1, 1).plug().state(3).charge(20).state(2).unplug().idle(5, 1)
    s.plug().state(3).charge(20)
    s._pending_lifetime = 0.0  # the power cut: the controller's session so far is gone
    s.power_loss(2).state(3).charge(10).state(2).unplug().idle(5, 1)
    changes = run(s.messages)
    first, second = sorted(changes.plugins.values(), key=lambda p: p.plugged_at)
    assert first.energy_wh == 2400.0 and "energy_estimated" not in first.flags
    assert first.meter_start is not None and first.meter_end == first.meter_start + 2400.0
    assert second.energy_wh == pytest.approx(2400.0 + 1200.0, rel=0.01)
    assert second.flags["energy_estimated"] == pytest.approx(2400.0, rel=0.01)
    assert second.meter_rollback_wh == pytest.approx(-second.flags["energy_estimated"], abs=1)
    assert "meter_mismatch" not in second.flags and "reboot" in second.flags
    books = ledger_totals(s.messages)
    assert books["rise_wh"] == pytest.approx(3600.0, abs=1.0)
    assert books["rise_wh"] == pytest.approx(books["sessions_wh"] + books["rollback_wh"], abs=0.01)


@pytest.mark.parametrize("firmware", NO_SESSION_COUNTER)
def test_a_car_gone_while_the_charger_was_off_is_booked_as_the_meter_going_back(
    firmware: str,
) -> None:
    """The whole controller session is lost at the power cut: its estimate stays the session's
    energy, and the month's books explain it instead of leaving it unexplained."""
    from tests.test_books import ledger_totals

    s = Script(firmware=firmware)
    s.idle(1, 1).plug().state(3).charge(10).state(2).unplug().idle(5, 1)  # the meter is known
    s.plug().state(3).charge(20).state(2).idle(1, 2)
    s._pending_lifetime = 0.0
    s.wait(3600)
    s.car = False
    s.send("state", "0").wait(2).idle(5, 1)
    changes = run(s.messages)
    _, lost = sorted(changes.plugins.values(), key=lambda p: p.plugged_at)
    assert "unplug_inferred" in lost.flags and "energy_estimated" in lost.flags
    assert lost.meter_rollback_wh == pytest.approx(-lost.energy_wh)
    assert "meter_mismatch" not in lost.flags
    books = ledger_totals(s.messages)
    assert books["rise_wh"] == pytest.approx(1200.0, abs=1.0)
    assert books["rise_wh"] == pytest.approx(books["sessions_wh"] + books["rollback_wh"], abs=0.01)
