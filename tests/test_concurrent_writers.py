"""Several writers at once (recorders, `chargelog import` backfills), each on its own connection,
their transactions left open and committed in any order, with incremental passes in between:
the passes never skip a message, so they give exactly what a rebuild gives.

On MariaDB, AUTO_INCREMENT hands out seq at insert, not at commit: before schema step 0009 a
transaction holding lower positions could commit after a pass had moved past them, and those
messages were never projected. Now every writer reserves its positions from `journal_head`
inside its transaction, so a second writer waits until the first commits; these tests let the
waiting happen in the writer's own thread and check the passes after both."""

from __future__ import annotations

import io
import itertools
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journal import entries, importer
from journal.entries import micros_text
from journal.migrate import available_steps, migrate
from journal.storage import StorageError, Store, open_store
from projector.rebuild import rebuild
from projector.runner import project_pass
from projector.tables import TABLES
from tests.charge_script import GENERATIONS, Script

# How long the orchestrating thread lets a step run before moving on. A step still running
# then is waiting for another writer's lock (it finishes once that writer commits), or merely
# slow: either way the outcome must not change, only which interleaving got tested.
STEP_WAIT = 0.15
JOIN_TIMEOUT = 60.0

Message = tuple[float, str, bytes, bool]


class Worker(threading.Thread):
    """One connection used by one thread, running the steps it is given in order. A step that
    blocks (a writer waiting for the journal_head lock, a pass waiting for SQLite's write lock)
    blocks only this thread."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.store = open_store(url)
        self._steps: queue.Queue[tuple[Callable[[Store], Any], threading.Event] | None] = (
            queue.Queue()
        )
        self.errors: list[BaseException] = []
        self.start()

    def submit(self, step: Callable[[Store], Any]) -> threading.Event:
        done = threading.Event()
        self._steps.put((step, done))
        return done

    def run(self) -> None:
        while (item := self._steps.get()) is not None:
            step, done = item
            try:
                step(self.store)
            except BaseException as exc:  # reported by finish(), in the test's thread
                self.errors.append(exc)
            finally:
                done.set()

    def finish(self) -> None:
        self._steps.put(None)
        self.join(JOIN_TIMEOUT)
        assert not self.is_alive(), "a step never finished"
        self.store.close()
        if self.errors:
            raise self.errors[0]


def rows_of(messages: list[Message]) -> list[entries.Row]:
    return [(micros_text(round(t * 1_000_000)), topic, p, 0, int(r)) for t, topic, p, r in messages]


def projection(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """The cycles and plug-in sessions, every column: what readers see."""
    result = {
        "cycles": store.query("SELECT * FROM energySession ORDER BY id"),
        "plugins": store.query("SELECT * FROM plugin_session ORDER BY id"),
    }
    store.rollback()
    return result


def energy_by_charger(store: Store) -> dict[str, float]:
    rows = store.query("SELECT charger, SUM(energy_wh) FROM plugin_session GROUP BY charger")
    store.rollback()
    return {charger: round(float(wh), 1) for charger, wh in rows}


@contextmanager
def empty_journal(db_url: str) -> Iterator[Store]:
    """The test's database, migrated, with no journal and no projection (hypothesis runs many
    examples on one database)."""
    with open_store(db_url) as store:
        migrate(store)
        for table in ("journal", *TABLES):
            store.execute(f"DELETE FROM {table}")
        store.commit()
        yield store


# ---- the scenario of issue 9 ----------------------------------------------------------------


def test_a_late_commit_of_lower_positions_is_still_projected(store: Store, db_url: str) -> None:
    """`state 3` in a transaction left open while a second writer commits `session_energy
    3600` and `state 2`; a pass in between; then the first commits. Before step 0009 the pass
    moved past the open transaction's seq on MariaDB and the session kept 0 Wh and no cycle
    until a rebuild. Now the second writer waits for the first (on both databases)."""
    script = Script(firmware="5.x", charger="openevse-late")
    script.idle(1, 1).plug().idle(1, 2)  # the dumps after the plug-in confirm it
    entries.append(store, rows_of(script.messages))
    store.commit()
    project_pass(store)
    start = len(script.messages)
    script.state(3).wait(600)
    charging = script.messages[start:]
    script.session_counter = 3600.0
    script.send("session_energy", "3600.0").wait(1).state(2)
    finished = script.messages[start + len(charging) :]

    first, second = Worker(db_url), Worker(db_url)
    try:
        first.submit(lambda s: entries.append(s, rows_of(charging))).wait(JOIN_TIMEOUT)
        second_done = second.submit(lambda s: (entries.append(s, rows_of(finished)), s.commit()))
        second_done.wait(STEP_WAIT)
        between = project_pass(store)
        # The second writer cannot have committed: its positions come after the first's, which
        # is still open, so it waits for the journal_head lock (checked below, after the loss
        # this test is about).
        second_waited = not second_done.is_set()
        assert energy_by_charger(store) == {"openevse-late": 0.0}
        first.submit(lambda s: s.commit())
    finally:
        first.finish()
        second.finish()
    project_pass(store)
    cycles = store.query("SELECT energy_wh FROM energySession WHERE charger = 'openevse-late'")
    store.rollback()
    assert [round(float(c[0])) for c in cycles] == [3600]
    assert energy_by_charger(store) == {"openevse-late": 3600.0}
    assert second_waited and between.entries == 0
    incremental = projection(store)
    rebuild(store)
    assert projection(store) == incremental


# ---- any number of writers, any commit order --------------------------------------------------


def charger_messages(index: int, minutes: int) -> list[Message]:
    """One charger's plug-in, charge and unplug: what one writer (a recorder, an import) holds."""
    script = Script(firmware=GENERATIONS[index % len(GENERATIONS)], charger=f"openevse-w{index}")
    script.idle(1, 1).plug().state(3).charge(minutes).state(2).idle(1, 2).unplug()
    return script.messages


def expected_energy(messages_by_charger: list[list[Message]]) -> dict[str, float]:
    """Each charger's energy when its messages are replayed alone and in order."""
    from tests.charge_script import run, summary

    result = {}
    for messages in messages_by_charger:
        for charger, wh, _ in summary(run(messages)):
            result[charger] = round(result.get(charger, 0.0) + wh, 1)
    return result


def split(messages: list[Message], cuts: list[int]) -> list[list[Message]]:
    bounds = [0, *sorted({c % len(messages) for c in cuts if c % len(messages)}), len(messages)]
    return [messages[a:b] for a, b in itertools.pairwise(bounds)]


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    plan=st.lists(
        st.tuples(
            st.integers(min_value=2, max_value=8),  # minutes of charging
            st.lists(st.integers(min_value=1, max_value=500), max_size=2),  # transaction cuts
        ),
        min_size=2,
        max_size=4,
    ),
    data=st.data(),
)
def test_overlapping_writers_in_any_commit_order_equal_one_rebuild(
    db_url: str, plan: list[tuple[int, list[int]]], data: st.DataObject
) -> None:
    """Rounds: every writer with something left opens its next transaction (its next slice of
    its charger's messages) and leaves it open; then the writers commit in a random
    permutation, with incremental passes at random points. The passes, the final one included,
    must give exactly the rebuild's sessions and cycles, and every charger its whole energy."""
    chargers = [charger_messages(i, minutes) for i, (minutes, _) in enumerate(plan)]
    transactions = [split(m, cuts) for m, (_, cuts) in zip(chargers, plan, strict=True)]
    with empty_journal(db_url) as store:
        writers = [Worker(db_url) for _ in plan]
        projector = Worker(db_url)  # on SQLite a pass may wait for a writer's lock too
        try:
            while any(transactions):
                active = [w for w, left in enumerate(transactions) if left]
                for w in active:
                    rows = rows_of(transactions[w].pop(0))
                    writers[w].submit(lambda s, rows=rows: entries.append(s, rows)).wait(STEP_WAIT)
                order = data.draw(st.permutations(active), label="commit order")
                passes = data.draw(
                    st.lists(st.booleans(), min_size=len(order), max_size=len(order)),
                    label="a pass after each commit",
                )
                for w, then_pass in zip(order, passes, strict=True):
                    writers[w].submit(lambda s: s.commit()).wait(STEP_WAIT)
                    if then_pass:
                        projector.submit(project_pass).wait(STEP_WAIT)
        finally:
            for worker in (*writers, projector):
                worker.finish()
        project_pass(store)
        incremental = projection(store)
        assert energy_by_charger(store) == expected_energy(chargers)
        rebuild(store)
        assert projection(store) == incremental


# ---- a batch that could not be committed is retried -----------------------------------------


def test_import_retries_a_batch_the_database_gave_up_on(
    store: Store, db_url: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lock wait that times out (1205; on Galera a certification failure, 1213, alike) ends
    the import's transaction: the batch is retried whole, not abandoned. Here another writer
    holds journal_head until the import has failed once."""
    monkeypatch.setattr(importer, "RETRY_DELAYS", (0.1, 0.1, 0.1))
    holder = Worker(db_url)
    lines = b"".join(b"%d openevse/state %d\n" % (1_767_261_600 + i, i % 4) for i in range(50))
    report = importer.ImportReport()
    try:
        row = rows_of([(1_767_261_000.0, "openevse/vehicle", b"1", False)])
        assert holder.submit(lambda s: entries.append(s, row)).wait(JOIN_TIMEOUT)
        if store.dialect == "mysql":
            store.execute("SET SESSION innodb_lock_wait_timeout = 1")
        else:
            store.execute("PRAGMA busy_timeout = 1000")
        released = threading.Event()

        def release_after_first_failure(record: logging.LogRecord) -> bool:
            if "retrying" in record.getMessage() and not released.is_set():
                released.set()
                holder.submit(lambda s: s.commit())
            return True

        logger = logging.getLogger(importer.__name__)
        logger.addFilter(release_after_first_failure)
        try:
            with caplog.at_level(logging.WARNING, logger=importer.__name__):
                importer.import_stream(store, "capture.txt", io.BytesIO(lines), report)
        finally:
            logger.removeFilter(release_after_first_failure)
    finally:
        holder.finish()
    assert released.is_set()
    assert (report.added, report.already, report.skipped) == (50, 0, [])
    assert entries.count(store) == 51
    store.rollback()


# ---- the upgrade: step 0009 on a journal written with AUTO_INCREMENT -------------------------


def test_step_0009_counts_on_from_every_position_already_used(db_url: str) -> None:
    """The counter starts above the journal's rows and the projector's checkpoint (so no number
    is handed out twice, and none below what a pass already covered); running the step again
    never lowers it. A writer that still relies on AUTO_INCREMENT (an older chargelog left
    running) fails on MariaDB rather than take a number the counter will give; on SQLite its row
    gets one and the counter moves past it."""
    old_insert = (
        "INSERT INTO journal (received_at, topic, payload, qos, retained) VALUES (?, ?, ?, ?, ?)"
    )
    row = ("2026-01-01 00:00:00.000000", "openevse/state", b"1", 0, 0)
    with open_store(db_url) as store:
        steps = available_steps(store.dialect)
        for step in steps:
            if step.version < 9:
                store.script(step.sql)
                store.execute(
                    "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                    (step.version, step.name, "2026-01-01 00:00:00.000000"),
                )
        store.executemany(old_insert, [row] * 3)
        store.execute(
            "INSERT INTO projection_checkpoint "
            "(name, position, machine_state, projector_version, updated_at) VALUES (?, ?, ?, ?, ?)",
            ("other", 7, "{}", 1, "2026-01-01 00:00:00.000000"),
        )
        store.commit()
        migrate(store)
        head = "SELECT last_seq FROM journal_head"
        assert store.query_one(head) == (7,)
        entries.append(store, [row])
        store.commit()
        assert max(e.seq for e in entries.iter_all(store)) == 8
        store.script(next(s.sql for s in steps if s.version == 9))
        assert store.query_one(head) == (8,)
        store.rollback()
        if store.dialect == "mysql":
            with pytest.raises(StorageError, match="doesn't have a default value"):
                store.execute(old_insert, row)
            store.rollback()
        else:
            store.execute(old_insert, row)  # seq 9, by AUTOINCREMENT
            store.commit()
        entries.append(store, [row])
        store.commit()
        seqs = [e.seq for e in entries.iter_all(store)]
        assert seqs == ([1, 2, 3, 8, 9, 10] if store.dialect == "sqlite" else [1, 2, 3, 8, 9])
