"""The projection in the database, on SQLite and MariaDB: incremental passes equal one rebuild,
a crash before the commit leaves no trace, a rebuild swaps atomically and reports what changed."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journal import entries
from journal.entries import micros_text
from journal.storage import Store
from projector.rebuild import rebuild
from projector.runner import VersionMismatch, project_pass
from projector.tables import TABLES
from tests.charge_script import Script


def scenario_messages() -> list[tuple[float, str, bytes, bool]]:
    a = Script(firmware="5.x", charger="openevse-aaaa")
    a.idle(1, 1).plug().state(3).charge(20).state(254).idle(5, 254).state(3).charge(10)
    a.power_loss(1).state(3).charge(5).state(2).unplug().idle(2, 1).plug().state(3).charge(5)
    b = Script(firmware="2.x", charger="openevse", t=a.messages[0][0] + 3.3)
    b.idle(1, 1).plug().state(3).charge(30).state(2).idle(2, 2).unplug()
    return sorted(a.messages + b.messages, key=lambda m: m[0])


MESSAGES = scenario_messages()


def journal(store: Store, messages: list[tuple[float, str, bytes, bool]]) -> None:
    rows = [(micros_text(round(t * 1_000_000)), topic, p, 0, int(r)) for t, topic, p, r in messages]
    entries.append(store, rows)
    store.commit()


def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every projected row, minus nothing: the exact content readers see."""
    result = {
        "cycles": store.query("SELECT * FROM energySession ORDER BY id"),
        "plugins": store.query("SELECT * FROM plugin_session ORDER BY id"),
        "cycle_costs": store.query(
            "SELECT * FROM cycle_cost ORDER BY cycle_id, tariff_id, band, price"
        ),
        "session_costs": store.query("SELECT * FROM session_cost ORDER BY plugin_id, currency"),
        "meters": store.query("SELECT * FROM session_meter ORDER BY plugin_id"),
        "ledger": store.query("SELECT * FROM meter_ledger ORDER BY id, anchor_at"),
    }
    store.rollback()
    return result


def test_incremental_passes_equal_one_rebuild(store: Store) -> None:
    journal(store, MESSAGES)
    while project_pass(store, max_entries=97).entries:
        pass
    incremental = snapshot(store)
    assert incremental["cycles"] and incremental["plugins"]
    _, diff = rebuild(store)
    assert snapshot(store) == incremental
    assert not (diff.sessions_added or diff.sessions_removed or diff.sessions_changed)
    assert diff.cycles_changed == 0 and diff.kwh_before == diff.kwh_after


def test_journal_growing_between_passes(store: Store) -> None:
    half = len(MESSAGES) // 2
    journal(store, MESSAGES[:half])
    project_pass(store)
    journal(store, MESSAGES[half:])
    project_pass(store)
    grown = snapshot(store)
    rebuild(store)
    assert snapshot(store) == grown


def test_crash_between_upsert_and_commit_leaves_no_trace(store: Store) -> None:
    journal(store, MESSAGES)
    project_pass(store, max_entries=200)
    before = snapshot(store)
    checkpoint = store.query_one("SELECT position FROM projection_checkpoint")
    store.rollback()

    def crash() -> None:
        raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        project_pass(store, before_commit=crash)
    assert snapshot(store) == before
    assert store.query_one("SELECT position FROM projection_checkpoint") == checkpoint
    store.rollback()
    project_pass(store)
    after = snapshot(store)
    rebuild(store)
    assert snapshot(store) == after


def test_rebuild_reports_and_repairs_a_damaged_projection(store: Store) -> None:
    journal(store, MESSAGES)
    project_pass(store)
    good = snapshot(store)
    first = min(r[0] for r in good["plugins"])
    store.execute("DELETE FROM plugin_session WHERE id = ?", (first,))
    store.execute("UPDATE energySession SET energy_wh = energy_wh + 1000")
    store.commit()
    _, dry = rebuild(store, dry_run=True)
    assert dry.sessions_added == [first]
    assert dry.cycles_changed == len(good["cycles"])
    assert not store.table_exists("energySession_next")
    _, diff = rebuild(store)
    assert diff.sessions_added == [first]
    assert snapshot(store) == good


def test_other_projection_version_is_refused(store: Store) -> None:
    journal(store, MESSAGES[:50])
    project_pass(store)
    store.execute("UPDATE projection_checkpoint SET projector_version = 999")
    store.commit()
    with pytest.raises(VersionMismatch):
        project_pass(store)
    rebuild(store)
    project_pass(store)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cuts=st.lists(st.integers(min_value=1, max_value=len(MESSAGES)), max_size=6))
def test_property_any_split_into_passes_equals_one_rebuild(db_url: str, cuts: list[int]) -> None:
    from journal.migrate import migrate
    from journal.storage import open_store

    with open_store(db_url) as store:
        migrate(store)
        for table in ("journal", *TABLES):
            store.execute(f"DELETE FROM {table}")
        store.commit()
        journal(store, MESSAGES)
        done = 0
        for cut in sorted(cuts):
            if cut > done:
                project_pass(store, max_entries=cut - done)
                done = cut
        project_pass(store)
        incremental = snapshot(store)
        rebuild(store)
        assert snapshot(store) == incremental


def test_recorder_gaps_are_found_when_no_charger_is_heard(store: Store) -> None:
    """A silence of every charger at once is the recorder's (or the broker's) gap."""
    a = Script(firmware="5.x", charger="openevse-aaaa")
    a.idle(5, 1)
    b = Script(firmware="2.x", charger="openevse", t=a.messages[0][0] + 1)
    b.idle(5, 1)
    silence_from = max(a.t, b.t)
    a.wait(900).idle(2, 1)
    b.t = a.t
    b.idle(2, 1)
    c = Script(firmware="5.x", charger="openevse-cccc", t=a.t)
    c.wait(100).idle(1, 1)  # one charger silent for 100 s while others talk: no gap
    journal(store, sorted(a.messages + b.messages + c.messages, key=lambda m: m[0]))
    project_pass(store)
    rows = store.query("SELECT started_at, ended_at, seconds FROM recorder_gap")
    store.rollback()
    assert len(rows) == 1
    started, _, seconds = rows[0]
    assert 880 <= seconds <= 940
    assert entries.to_micros(started) <= round(silence_from * 1_000_000)
