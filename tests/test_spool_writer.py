"""The recorder's durable write path: the journal when the database is there, the local spool
when it is not, and the spool drained back in order when it returns."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from journal import entries
from journal.spool import Spool
from journal.storage import open_store, parse_database_url
from journal.writer import JournalWriter
from tests.services import TcpProxy, mysql_database


def rows(start: int, count: int) -> list[tuple[str, str, bytes, int, int]]:
    return [
        (f"2026-01-01 00:00:00.{i:06d}", "openevse/n", str(i).encode(), 1, 0)
        for i in range(start, start + count)
    ]


def test_spool_round_trip_in_batches(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s" / "recorder.spool")
    assert not spool.has_data()
    spool.append(rows(0, 3))
    spool.append([("2026-01-01 00:00:01.000000", "a/ü", bytes(range(256)), 0, 1), *rows(3, 2)])
    got = [r for batch in spool.read(batch=2) for r in batch]
    assert got[:3] == rows(0, 3)
    assert got[3] == ("2026-01-01 00:00:01.000000", "a/ü", bytes(range(256)), 0, 1)
    assert got[4:] == rows(3, 2)
    spool.clear()
    assert not spool.has_data() and list(spool.read()) == []


def test_spool_ignores_a_torn_last_frame(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "recorder.spool")
    spool.append(rows(0, 2))
    with open(spool.path, "ab") as handle:
        handle.write(b"\x1a\x00\x05")  # a crash in the middle of an append
    assert [r for batch in spool.read() for r in batch] == rows(0, 2)


@pytest.fixture
def proxied_mysql() -> Iterator[tuple[str, TcpProxy]]:
    with mysql_database() as url:
        target = parse_database_url(url)
        proxy = TcpProxy(target.port, target.host)
        try:
            yield url.replace(f"@{target.host}:{target.port}/", f"@127.0.0.1:{proxy.port}/"), proxy
        finally:
            proxy.close()


def test_outage_spools_then_drains_in_order(
    proxied_mysql: tuple[str, TcpProxy], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url, proxy = proxied_mysql
    now = [0.0]
    writer = JournalWriter(
        lambda: open_store(url, read_timeout=5),
        Spool(tmp_path / "recorder.spool"),
        auto_migrate=True,
        clock=lambda: now[0],
    )
    writer.start()
    writer.write(rows(0, 10))
    assert writer.database_up
    proxy.cut()
    writer.write(rows(10, 10))  # the connection is gone: spooled, not lost, not blocked
    assert not writer.database_up and writer.spooled == 10
    writer.write(rows(20, 5))
    proxy.restore()
    writer.tick()  # retry not due yet (backoff)
    assert not writer.database_up
    now[0] += 60
    writer.write(rows(25, 5))  # reconnects, drains the spool first, then writes these
    assert writer.database_up
    writer.close()
    with open_store(url) as store:
        assert [int(e.payload) for e in entries.iter_all(store)] == list(range(30))
    assert not Spool(tmp_path / "recorder.spool").has_data()
    outage_logs = [r for r in caplog.records if "database unavailable" in r.getMessage()]
    back_logs = [r for r in caplog.records if "database is back" in r.getMessage()]
    assert len(outage_logs) == 1 and len(back_logs) == 1


def test_database_down_at_start_then_up(
    proxied_mysql: tuple[str, TcpProxy], tmp_path: Path
) -> None:
    url, proxy = proxied_mysql
    proxy.cut()
    now = [0.0]
    writer = JournalWriter(
        lambda: open_store(url, read_timeout=5),
        Spool(tmp_path / "recorder.spool"),
        auto_migrate=True,
        clock=lambda: now[0],
    )
    writer.start()
    writer.write(rows(0, 3))
    assert not writer.database_up
    proxy.restore()
    now[0] += 60
    writer.tick()
    assert writer.database_up
    writer.close()
    with open_store(url) as store:
        assert [int(e.payload) for e in entries.iter_all(store)] == [0, 1, 2]
