"""`chargelog export` -> `chargelog import`: the lines export writes (text: `mosquitto_sub -F '%U %t
%p'`, hex: `-F '%U %r %q %t %x'`) give back the journal they came from in a fresh store, sealed
and live messages alike (hex: every field, whatever the payload; text: what text can carry);
--from/--to are local days, --charger a topic group; a re-import of lines already sealed adds
nothing, in either format. SQLite and MariaDB."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from journal import entries, segments
from journal.export import hex_line, local_days_us, stamp, text_line
from journal.storage import Store, open_store
from tests.services import mysql_database
from tests.test_seal_commands import (
    DAY_US,
    counts,
    everything,
    flip,
    journal_rows,
    project,
    today_us,
    traffic,
)
from tests.test_sessions_command import chargelog

PARIS = ZoneInfo("Europe/Paris")
BINARY = bytes(x for x in range(256) if x != 0x0A)  # every byte but the newline
BIG = bytes((i * 7 + i // 251) % 256 for i in range(200_000)).replace(b"\n", b"\v")


def test_line_formats() -> None:
    message = (7, 1_700_000_000_123_456, "openevse-ab12/amp", b"32 A", 1, True, False)
    assert stamp(1_700_000_000_000_001) == b"1700000000.000001000"
    assert text_line(message) == b"1700000000.123456000 openevse-ab12/amp 32 A\n"
    assert hex_line(message) == b"1700000000.123456000 1 1 openevse-ab12/amp 33322041\n"
    empty = (8, 1_700_000_000_000_000, "a/b", b"", 2, False, True)
    assert hex_line(empty) == b"1700000000.000000000 0 2 a/b \n"
    assert text_line(empty) == b"1700000000.000000000 a/b \n"


def test_local_days_are_the_sites() -> None:
    """Paris in winter is UTC+1: its 2026-01-10 runs from 09 23:00 UTC to 10 22:59:59.999999."""
    since, until = local_days_us(date(2026, 1, 10), date(2026, 1, 10), PARIS)
    start = datetime(2026, 1, 9, 23, 0, tzinfo=ZoneInfo("UTC")).timestamp()
    assert since == int(start) * 1_000_000
    assert until == int(start + 86400) * 1_000_000 - 1
    assert local_days_us(None, None, PARIS) == (None, None)


@contextmanager
def fresh_database(db_url: str, tmp_path: Path) -> Iterator[str]:
    """Another empty database on the same backend."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
    else:
        with mysql_database() as url:
            yield url


def special(start_us: int, newlines: bool = True) -> list:
    """Payloads that test a format: every byte, empty, 200 KB, spaces, hex-looking words, two
    identical messages in the same microsecond, and (with `newlines`) lines inside a payload."""
    rows = [
        (start_us, "openevse-ab12/bin", BINARY, 1, 0),
        (start_us + 1, "openevse-ab12/empty", b"", 2, 1),
        (start_us + 2, "openevse-ab12/big", BIG, 1, 0),
        (start_us + 3, "openevse-cd34/spaces", b"  a  b ", 0, 0),
        (start_us + 4, "openevse-cd34/hexlike", b"1 0 x/y ab", 0, 1),
        (start_us + 5, "openevse-cd34/same", b"1", 0, 0),
        (start_us + 5, "openevse-cd34/same", b"1", 0, 0),
    ]
    if newlines:
        rows += [
            (start_us + 6, "openevse-ab12/lines", b"one\ntwo\n", 0, 1),
            (start_us + 7, "openevse-ab12/nl", b"\n", 1, 1),
        ]
    return [(entries.micros_text(at), *rest) for at, *rest in rows]


def mixed_journal(db_url: str, store: Store, tmp_path: Path, newlines: bool = True) -> None:
    """Two sealed days and a live one, each with ordinary and special messages."""
    for days_ago in (10, 9, 0):
        start = today_us() - days_ago * DAY_US + (60_000_000 if days_ago == 0 else 3_600_000_000)
        journal_rows(store, traffic(start) + special(start + 50_000_000, newlines))
    project(store)
    sealed = chargelog(db_url, tmp_path, "seal")
    assert sealed.stdout.startswith("sealed "), sealed.stderr
    live, segments, _ = counts(store)
    assert live == 40 + len(special(0, newlines)) and segments == 4


def kept(store: Store) -> list[tuple]:
    """(received_at µs, topic, payload, qos, retained) of every message, in order."""
    return [m[1:6] for m in everything(store)]


def test_hex_export_import_gives_back_the_journal(
    db_url: str, store: Store, tmp_path: Path
) -> None:
    mixed_journal(db_url, store, tmp_path)
    original = kept(store)
    export = tmp_path / "journal.hex"
    result = chargelog(db_url, tmp_path, "export", "--format", "hex", str(export))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"exported {len(original)} message(s) to {export} (hex)\n"
    assert result.stderr == ""  # nothing hex cannot carry
    with fresh_database(db_url, tmp_path) as url:
        imported = chargelog(url, tmp_path, "import", str(export))
        assert imported.returncode == 0, imported.stderr
        assert imported.stdout.startswith(f"imported {len(original)} new message(s)")
        with open_store(url) as fresh:
            assert kept(fresh) == original
            assert all(m[6] for m in everything(fresh))  # and they are marked imported


def test_text_export_import_gives_back_what_text_carries(
    db_url: str, store: Store, tmp_path: Path
) -> None:
    """Everything but qos and retained (stored as 0), when no payload holds a newline."""
    mixed_journal(db_url, store, tmp_path, newlines=False)
    original = kept(store)
    path = tmp_path / "journal.txt"
    exported = chargelog(db_url, tmp_path, "export", str(path))
    assert exported.returncode == 0, exported.stderr
    assert exported.stderr == ""
    with fresh_database(db_url, tmp_path) as url:
        imported = chargelog(url, tmp_path, "import", str(path))
        assert imported.returncode == 0, imported.stderr
        with open_store(url) as fresh:
            assert kept(fresh) == [(at, topic, data, 0, False) for at, topic, data, *_ in original]


def test_export_to_standard_output(db_url: str, store: Store, tmp_path: Path) -> None:
    """`-` writes the lines on stdout and says what it did on stderr."""
    mixed_journal(db_url, store, tmp_path)
    path = tmp_path / "journal.hex"
    chargelog(db_url, tmp_path, "export", "--format", "hex", str(path))
    result = chargelog(db_url, tmp_path, "export", "--format", "hex", "-")
    assert result.returncode == 0, result.stderr
    assert result.stdout.encode() == path.read_bytes()
    count = len(kept(store))
    assert result.stderr == f"exported {count} message(s) to standard output (hex)\n"


def test_text_export_warns_about_payloads_with_a_newline(
    db_url: str, store: Store, tmp_path: Path
) -> None:
    mixed_journal(db_url, store, tmp_path)
    path = tmp_path / "journal.txt"
    result = chargelog(db_url, tmp_path, "export", str(path))
    assert result.returncode == 0
    assert result.stderr == (
        "chargelog export: warning: 6 message(s) have a newline in the payload: their text "
        "lines cannot be read back as they were; --format hex keeps them\n"
    )
    # Written as mosquitto_sub writes them: the payload as it is.
    assert b" openevse-ab12/lines one\ntwo\n\n" in path.read_bytes()


def boundary_rows(day: date) -> list:
    """Each charger at the edges of a local day (Paris): the microsecond before it, its first,
    its last and the one after."""
    start = datetime.combine(day, time.min, PARIS)
    end = datetime.combine(day + timedelta(days=1), time.min, PARIS)
    moments = [start - timedelta(microseconds=1), start, end - timedelta(microseconds=1), end]
    rows = []
    for moment in moments:
        at = int(moment.timestamp()) * 1_000_000 + moment.microsecond
        for charger in ("openevse-ab12", "openevse-ab12x", "openevse-cd34"):
            rows.append((entries.micros_text(at), f"{charger}/state", b"%d" % at, 0, 0))
    return rows


def test_from_to_and_charger_choose_local_days_and_a_group(
    db_url: str, store: Store, tmp_path: Path
) -> None:
    day = (datetime.now(PARIS) - timedelta(days=10)).date()
    journal_rows(store, boundary_rows(day) + boundary_rows(day - timedelta(days=3)))
    project(store)

    def exported(*options: str) -> list[bytes]:
        path = tmp_path / "some.txt"
        result = chargelog(db_url, tmp_path, "export", *options, str(path))
        assert result.returncode == 0, result.stderr
        return path.read_bytes().splitlines()

    def at(moment: datetime) -> bytes:
        return stamp(int(moment.timestamp()) * 1_000_000 + moment.microsecond)

    first = datetime.combine(day, time.min, PARIS)
    last = datetime.combine(day + timedelta(days=1), time.min, PARIS) - timedelta(microseconds=1)
    options = ("--from", day.isoformat(), "--to", day.isoformat(), "--charger", "openevse-ab12")
    before_seal = exported(*options)
    assert [line.split(b" ")[:2] for line in before_seal] == [
        [at(first), b"openevse-ab12/state"],
        [at(last), b"openevse-ab12/state"],
    ]
    assert len(exported("--from", day.isoformat())) == 3 * 3  # this day's 2 + the next one
    assert len(exported("--to", day.isoformat())) == 4 * 3 + 3 * 3
    assert len(exported()) == 8 * 3

    sealed = chargelog(db_url, tmp_path, "seal")
    assert sealed.stdout.startswith("sealed "), sealed.stderr
    assert counts(store)[1] > 0
    assert exported(*options) == before_seal
    assert len(exported("--from", day.isoformat())) == 3 * 3
    assert len(exported("--to", day.isoformat())) == 4 * 3 + 3 * 3
    assert len(exported("--charger", "openevse-cd34")) == 8


# ---- re-importing what is sealed --------------------------------------------------------------


def capture(start_s: int, repeats: int = 2) -> bytes:
    """mosquitto_sub -F '%U %t %p' lines of one old day: nanosecond digits, an identical line
    `repeats` times (each a message of its own), an empty payload."""
    lines = [b"%d.%09d openevse-ab12/amp %d" % (start_s + i, i * 1_000_001, i) for i in range(30)]
    lines += [b"%d.123456789 openevse-ab12/state 3" % (start_s + 40)] * repeats
    lines += [
        b"%d.123456000 openevse-ab12/state 3" % (start_s + 41),
        b"%d.123456999 openevse-ab12/state 3" % (start_s + 41),  # same microsecond, other ns
        b"%d openevse-cd34/empty " % (start_s + 42),
    ]
    return b"\n".join(lines) + b"\n"


def imported_line(result_stdout: str) -> tuple[int, int]:
    words = result_stdout.split()
    return int(words[1]), int(words[words.index("already") - 1])


def test_a_sealed_day_reimported_adds_nothing_in_text_or_hex(
    db_url: str, store: Store, tmp_path: Path
) -> None:
    start_s = (today_us() - 10 * DAY_US) // 1_000_000 + 7200
    path = tmp_path / "capture.txt"
    path.write_bytes(capture(start_s))
    first = chargelog(db_url, tmp_path, "import", str(path))
    assert imported_line(first.stdout) == (35, 0), first.stdout + first.stderr
    project(store)
    sealed = chargelog(db_url, tmp_path, "seal")
    assert sealed.stdout.startswith("sealed 35 message(s)"), sealed.stderr
    assert counts(store)[:2] == (0, 2)
    journal = everything(store)

    again = chargelog(db_url, tmp_path, "import", str(path))
    assert again.returncode == 0, again.stderr
    assert imported_line(again.stdout) == (0, 35)
    hex_path = tmp_path / "capture.hex"
    chargelog(db_url, tmp_path, "export", "--format", "hex", str(hex_path))
    as_hex = chargelog(db_url, tmp_path, "import", str(hex_path))
    assert imported_line(as_hex.stdout) == (0, 35)
    text_path = tmp_path / "export.txt"
    chargelog(db_url, tmp_path, "export", str(text_path))
    as_text = chargelog(db_url, tmp_path, "import", str(text_path))
    assert imported_line(as_text.stdout) == (0, 35)
    assert everything(store) == journal and counts(store)[0] == 0

    # What the sealed day does not hold yet is added: a third copy of the repeated line, a new
    # line on that day. Once.
    longer = tmp_path / "longer.txt"
    longer.write_bytes(capture(start_s, repeats=3) + b"%d openevse-ab12/state 1\n" % (start_s + 50))
    more = chargelog(db_url, tmp_path, "import", str(longer))
    assert imported_line(more.stdout) == (2, 35)
    assert imported_line(chargelog(db_url, tmp_path, "import", str(longer)).stdout) == (0, 37)
    assert counts(store)[0] == 2


def test_recorded_messages_are_not_taken_for_imported_ones(
    db_url: str, store: Store, tmp_path: Path
) -> None:
    """A capture of what the recorder also received was never matched against its rows; sealing
    them changes nothing to that."""
    journal_rows(store, traffic(today_us() - 10 * DAY_US))
    project(store)
    chargelog(db_url, tmp_path, "seal")
    path = tmp_path / "recorded.hex"
    chargelog(db_url, tmp_path, "export", "--format", "hex", str(path))
    result = chargelog(db_url, tmp_path, "import", str(path))
    assert imported_line(result.stdout) == (40, 0)


def test_the_same_message_has_the_same_key_in_both_formats(
    db_url: str, store: Store, tmp_path: Path
) -> None:
    """Live rows: a hex capture of a text import adds nothing either."""
    path = tmp_path / "capture.txt"
    start_s = today_us() // 1_000_000 - 3600
    path.write_bytes(capture(start_s))
    assert imported_line(chargelog(db_url, tmp_path, "import", str(path)).stdout) == (35, 0)
    hex_path = tmp_path / "capture.hex"
    hex_path.write_bytes(
        b"".join(
            b"%s 0 0 %s %s\n" % (stamp_s, topic, payload.hex().encode())
            for stamp_s, topic, payload in (
                [*line.split(b" ", 2), b""][:3] for line in capture(start_s).splitlines()
            )
        )
    )
    assert imported_line(chargelog(db_url, tmp_path, "import", str(hex_path)).stdout) == (0, 35)


def test_hex_import_keeps_retained_and_qos(db_url: str, store: Store, tmp_path: Path) -> None:
    path = tmp_path / "capture.hex"
    path.write_bytes(
        b"1767261600.000001000 1 2 openevse-ab12/state 33\n"
        b"1767261600.000002000 0 1 openevse-ab12/empty \n"
        b"1767261600.000003000 1 0 openevse-ab12/bin 00ff0a0d20\n"
    )
    result = chargelog(db_url, tmp_path, "import", str(path))
    assert result.returncode == 0, result.stderr
    assert [m[1:] for m in everything(store)] == [
        (1_767_261_600_000_001, "openevse-ab12/state", b"3", 2, True, True),
        (1_767_261_600_000_002, "openevse-ab12/empty", b"", 1, False, True),
        (1_767_261_600_000_003, "openevse-ab12/bin", b"\x00\xff\n\r ", 0, True, True),
    ]


def test_export_stops_at_a_damaged_segment(db_url: str, store: Store, tmp_path: Path) -> None:
    mixed_journal(db_url, store, tmp_path)
    with store.snapshot():
        target = segments.every(store)[2]
    flip(store, target, "block", 30)
    path = tmp_path / "out.hex"
    result = chargelog(db_url, tmp_path, "export", "--format", "hex", str(path))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(
        f"chargelog: journal segment {target.id} ({target.group}, {target.day}) is damaged"
    )
    assert len(result.stderr.splitlines()) == 1
    assert list(tmp_path.glob("out.hex*")) == []  # no file that looks whole, no leftover


@pytest.mark.parametrize("fmt", ["text", "hex"])
def test_an_empty_journal_exports_nothing(
    db_url: str, store: Store, tmp_path: Path, fmt: str
) -> None:
    path = tmp_path / "none"
    result = chargelog(db_url, tmp_path, "export", "--format", fmt, str(path))
    assert result.returncode == 0, result.stderr
    assert path.read_bytes() == b""
