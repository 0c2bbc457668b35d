"""Sealing on the real stores: every kept field survives, any mix of sealed and live rows reads as
one journal, projections are the same before and after, and a damaged segment stops a replay
with one line instead of being read as data."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journal import entries, reader, sealing, segments
from journal.entries import Message
from journal.importer import import_key
from journal.segment_codec import group_of
from journal.segments import SegmentDamaged
from journal.storage import Store
from projector.readings import PROJECTED_KEYS
from projector.rebuild import rebuild
from projector.runner import LIVE, project_pass
from projector.tables import read_checkpoint
from simulator.traffic import ChargerSpec, SimulationSpec, parse_faults, simulate
from tests.test_sessions_command import chargelog

DAY_US = sealing.DAY_US
START_US = 1_767_225_600_000_000  # 2026-01-01 00:00:00 UTC
FAR = 4_000_000_000_000_000  # a cutoff after every test message


def write(store: Store, rows: list[tuple[int, str, bytes, int, bool, bool]]) -> None:
    """Journal (µs, topic, payload, qos, retained, imported) rows in order, as the recorder
    (live) and `chargelog import` (imported, with an import key) do."""
    live: list[entries.Row] = []
    for at, topic, payload, qos, retained, imported in rows:
        text = entries.micros_text(at)
        if imported:
            entries.append(store, live)
            live = []
            key = import_key(at * 1000, topic, payload, 0)
            entries.append_imported(store, [(text, topic, payload, qos, int(retained), key)])
        else:
            live.append((text, topic, payload, qos, int(retained)))
            if len(live) == 2000:
                entries.append(store, live)
                live = []
    entries.append(store, live)
    store.commit()


def journal(store: Store) -> list[Message]:
    with store.snapshot():
        return [
            (m[0], m[1], m[2], bytes(m[3]), m[4], bool(m[5]), bool(m[6]))
            for m in reader.messages(store)
        ]


def clear(store: Store) -> None:
    for table in ("journal", "journal_segment", "journal_seal_run"):
        store.execute(f"DELETE FROM {table}")
    store.commit()


PAYLOADS = st.sampled_from(
    [b"", b"3", b"233.49", b"false", b"\x00\xff\r\n", b"x" * 5000]
) | st.binary(max_size=20)


@st.composite
def journals(draw: st.DrawFn) -> list[tuple[int, str, bytes, int, bool, bool]]:
    chargers = draw(
        st.lists(st.sampled_from(["openevse-ab12", "openevse", "t/x/c3"]), min_size=1, max_size=3)
    )
    keys = ["state", "vehicle", "session_energy", "temp", "config"]
    count = draw(st.integers(1, 60))
    at = START_US + draw(st.integers(0, DAY_US))
    rows = []
    for _ in range(count):
        at += draw(st.integers(0, DAY_US // 3))
        topic = f"{draw(st.sampled_from(chargers))}/{draw(st.sampled_from(keys))}"
        rows.append(
            (
                at,
                topic,
                draw(PAYLOADS),
                draw(st.integers(0, 2)),
                draw(st.booleans()),
                draw(st.booleans()),
            )
        )
    return rows


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=journals(),
    cut=st.integers(0, 5),
    position_cut=st.floats(0.0, 1.0),
    chunk=st.integers(1, 40),
)
def test_any_mix_of_sealed_and_live_rows_is_the_same_journal(
    store: Store, rows: list, cut: int, position_cut: float, chunk: int
) -> None:
    clear(store)
    write(store, rows)
    before = journal(store)
    assert [(m[1], m[2], m[3], m[4], m[5], m[6]) for m in before] == rows
    last = before[-1][0]
    position = before[0][0] - 1 + round(position_cut * (last - before[0][0] + 1))
    report = sealing.seal(
        store,
        position=position,
        before_us=START_US + cut * DAY_US,
        chunk=chunk,
        replayed_keys=("state", "vehicle") if chunk % 2 else (),
    )
    assert journal(store) == before
    assert reader.count(store) == len(before)
    assert reader.last_seq(store) == last
    sealed = [m for m in before if m[0] <= position and m[1] < START_US + cut * DAY_US]
    assert report.messages == len(sealed)
    assert entries.count(store) == len(before) - len(sealed)
    for info in segments.every(store):
        days = {
            sealing.day_of(m[1])
            for m in before
            if info.first_seq <= m[0] <= info.last_seq and group_of(m[2]) == info.group
        }
        assert info.day in days
    # the projector's view, filtered by key, sealed or not
    keys = ("state", "session_energy")
    pages = list(reader.raw_pages(store, 0, last, keys, page=7))
    assert [e for page, _ in pages for e in page] == [
        (m[0], m[1], m[2], m[3], m[5]) for m in before if m[2].rpartition("/")[2] in keys
    ]
    assert pages[-1][1] == last
    # sealing the rest changes nothing either
    sealing.seal(store, position=last, before_us=FAR)
    assert journal(store) == before
    assert entries.count(store) == 0


def simulated(store: Store, days: float = 3, seed: int = 2) -> None:
    spec = SimulationSpec(
        chargers=(ChargerSpec("openevse-aa01", "5.x"), ChargerSpec("openevse", "2.x")),
        start=datetime(2026, 1, 5, tzinfo=UTC),
        days=days,
        seed=seed,
        faults=parse_faults("all"),
        idle_dump_interval=300.0,
        telemetry_interval=10.0,
    )
    batch = []
    for message in simulate(spec).messages():
        batch.append(
            (
                entries.micros_text(round(message.ts * 1e6)),
                message.topic,
                message.payload,
                0,
                int(message.retained),
            )
        )
        if len(batch) == 2000:
            entries.append(store, batch)
            batch = []
    entries.append(store, batch)
    store.commit()


def projection(store: Store) -> tuple[list, list]:
    plugins = store.query(
        "SELECT id, charger, plugged_at, unplugged_at, energy_wh, charging_s, cycle_count, flags "
        "FROM plugin_session ORDER BY id"
    )
    cycles = store.query(
        "SELECT id, plugin_id, started_at, ended_at, energy_wh, end_reason, flags "
        "FROM energySession ORDER BY id"
    )
    store.rollback()
    return [tuple(map(str, r)) for r in plugins], [tuple(map(str, r)) for r in cycles]


def checkpoint_position(store: Store) -> int:
    checkpoint = read_checkpoint(store, LIVE)
    store.rollback()
    assert checkpoint is not None
    return checkpoint.position


def test_rebuild_and_passes_across_seals_give_the_same_sessions(store: Store) -> None:
    simulated(store)
    project_pass(store)
    before = projection(store)
    assert before[0], "the simulation made plug-ins"
    digest = hashlib.sha256(repr(journal(store)).encode()).hexdigest()
    # a first seal of the older days, then a rebuild over segments and rows mixed
    sealing.seal(
        store,
        position=checkpoint_position(store),
        before_us=round(datetime(2026, 1, 7, tzinfo=UTC).timestamp() * 1e6),
        replayed_keys=PROJECTED_KEYS,
    )
    assert segments.totals(store).segments > 0 and entries.count(store) > 0
    rebuild(store)
    assert projection(store) == before
    # everything sealed
    sealing.seal(store, position=checkpoint_position(store), before_us=FAR)
    assert entries.count(store) == 0
    rebuild(store)
    assert projection(store) == before
    assert hashlib.sha256(repr(journal(store)).encode()).hexdigest() == digest


def test_incremental_passes_across_a_seal(store: Store) -> None:
    simulated(store)
    everything = journal(store)
    project_pass(store)
    whole = projection(store)
    # the same journal again, projected in steps with seals in between
    clear(store)
    store.execute("DELETE FROM projection_checkpoint")
    for table in ("plugin_session", "energySession"):
        store.execute(f"DELETE FROM {table}")
    store.commit()
    half = len(everything) // 2
    write(store, [(m[1], m[2], m[3], m[4], m[5], m[6]) for m in everything[:half]])
    project_pass(store, max_entries=half // 3)
    sealing.seal(store, position=checkpoint_position(store), before_us=FAR)
    project_pass(store)
    sealing.seal(store, position=checkpoint_position(store), before_us=FAR)
    write(store, [(m[1], m[2], m[3], m[4], m[5], m[6]) for m in everything[half:]])
    project_pass(store)
    # ids are journal positions, which the second journal numbers differently
    plugins, cycles = projection(store)
    assert [p[1:] for p in plugins] == [p[1:] for p in whole[0]]
    assert [c[2:] for c in cycles] == [c[2:] for c in whole[1]]


def test_a_damaged_block_or_checksum_stops_a_rebuild_with_one_line(store: Store) -> None:
    simulated(store, days=1.5)
    project_pass(store)
    before = projection(store)
    sealing.seal(store, position=checkpoint_position(store), before_us=FAR)
    victim = segments.every(store)[0]
    for column in ("block", "checksum"):
        row = store.query_one(f"SELECT {column} FROM journal_segment WHERE id = ?", (victim.id,))
        assert row is not None
        original = bytes(row[0])
        damaged = original[:10] + bytes([original[10] ^ 0x40]) + original[11:]
        store.execute(f"UPDATE journal_segment SET {column} = ? WHERE id = ?", (damaged, victim.id))
        store.commit()
        with pytest.raises(SegmentDamaged) as caught:
            rebuild(store)
        line = str(caught.value)
        assert "\n" not in line
        assert f"segment {victim.id}" in line and victim.day in line and victim.group in line
        assert projection(store) == before, "nothing was swapped in"
        with pytest.raises(SegmentDamaged):
            journal(store)
        store.rollback()
        store.execute(
            f"UPDATE journal_segment SET {column} = ? WHERE id = ?", (original, victim.id)
        )
        store.commit()
    rebuild(store)
    assert projection(store) == before


def test_nothing_one_message_and_a_dst_night(store: Store) -> None:
    assert sealing.seal(store, position=0, before_us=FAR).messages == 0
    assert sealing.last_run(store) is not None  # the run is recorded even when nothing was due
    write(store, [(START_US + 5, "openevse-ab12/state", b"1", 0, False, False)])
    assert sealing.seal(store, position=reader.last_seq(store), before_us=FAR).messages == 1
    assert [(i.day, i.count) for i in segments.every(store)] == [("2026-01-01", 1)]
    assert journal(store)[0][1:] == (START_US + 5, "openevse-ab12/state", b"1", 0, False, False)
    clear(store)
    # Europe/Paris goes to summer time at 01:00 UTC on 29 March 2026: days are UTC all the same
    night = round(datetime(2026, 3, 28, 22, 0, tzinfo=UTC).timestamp() * 1e6)
    rows = [
        (night + i * 600_000_000, "openevse-ab12/temp", b"%d" % i, 0, False, False)
        for i in range(36)
    ]
    write(store, rows)
    sealing.seal(store, position=reader.last_seq(store), before_us=FAR)
    assert {i.day: i.count for i in segments.every(store)} == {"2026-03-28": 12, "2026-03-29": 24}
    assert [m[1:4] for m in journal(store)] == [r[:3] for r in rows]


def test_a_dry_run_writes_nothing(store: Store) -> None:
    write(store, [(START_US + i, "c/state", b"3", 0, False, False) for i in range(10)])
    report = sealing.seal(store, position=reader.last_seq(store), before_us=FAR, dry_run=True)
    assert report.messages == 10 and report.segments == 1 and report.block_bytes > 0
    assert entries.count(store) == 10
    assert segments.totals(store).segments == 0
    assert sealing.last_run(store) is None


def test_project_rebuild_on_a_damaged_segment_prints_one_line(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    simulated(store, days=1.2)
    project_pass(store)
    sealing.seal(store, position=checkpoint_position(store), before_us=FAR)
    victim = segments.every(store)[-1]
    store.execute("UPDATE journal_segment SET checksum = ? WHERE id = ?", (b"\0" * 32, victim.id))
    store.commit()
    result = chargelog(db_url, tmp_path, "project", "--rebuild")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"segment {victim.id}" in lines[0] and victim.day in lines[0]
