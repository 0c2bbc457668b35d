"""`chargelog import`: mosquitto_sub -F '%U %t %p' and -F '%U %r %q %t %x' lines into the
journal, idempotently."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from journal import entries
from journal.importer import LineError, parse_any, parse_line
from journal.storage import Store


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"1700000000 openevse/state 3", (1700000000_000000000, "openevse/state", b"3")),
        (b"1700000000.5 openevse/amp 32000", (1700000000_500000000, "openevse/amp", b"32000")),
        (b"1700000000.123456789 a/b x", (1700000000_123456789, "a/b", b"x")),
        (b"1700000000 openevse/empty ", (1700000000_000000000, "openevse/empty", b"")),
        (b"1700000000 openevse/empty", (1700000000_000000000, "openevse/empty", b"")),
        (b"1700000000 a/b  two  spaces ", (1700000000_000000000, "a/b", b" two  spaces ")),
        (
            b'1700000000 openevse/announce/ab12 {"state":"connected"}',
            (1700000000_000000000, "openevse/announce/ab12", b'{"state":"connected"}'),
        ),
        (b"1700000000 a/b \xff\x00bin", (1700000000_000000000, "a/b", b"\xff\x00bin")),
    ],
)
def test_parse_line(line: bytes, expected: tuple) -> None:
    assert parse_line(line) == expected


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"hello openevse/state 3", "Unix time"),
        (b"1e9 openevse/state 3", "Unix time"),
        (b"-5 openevse/state 3", "Unix time"),
        (b"12 openevse/state 3", "outside 2000..2100"),
        (b"1700000000", "no topic"),
        (b"1700000000  3", "no topic"),
        (b"1700000000 openevse/# 3", "wildcard"),
        (b"1700000000 \xff/x 3", "not UTF-8"),
    ],
)
def test_unparseable_lines(line: bytes, reason: str) -> None:
    with pytest.raises(LineError, match=reason):
        parse_line(line)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"1700000000.000000001 0 0 a/b 7a", (1700000000_000000001, "a/b", b"z", 0, 0)),
        (b"1700000000 1 2 a/b 00FF0a", (1700000000_000000000, "a/b", b"\x00\xff\n", 2, 1)),
        (b"1700000000 1 1 openevse/empty ", (1700000000_000000000, "openevse/empty", b"", 1, 1)),
        # Not five fields, a retained flag, a qos or even-length hex: a text line.
        (b"1700000000 0 3 a/b 7a", (1700000000_000000000, "0", b"3 a/b 7a", 0, 0)),
        (b"1700000000 2 0 a/b 7a", (1700000000_000000000, "2", b"0 a/b 7a", 0, 0)),
        (b"1700000000 0 0 a/b 7", (1700000000_000000000, "0", b"0 a/b 7", 0, 0)),
        (b"1700000000 0 0 a/b zz", (1700000000_000000000, "0", b"0 a/b zz", 0, 0)),
        (b"1700000000 0 0 a/b 7a ", (1700000000_000000000, "0", b"0 a/b 7a ", 0, 0)),
        (b"1700000000 a/b 1 0 7a", (1700000000_000000000, "a/b", b"1 0 7a", 0, 0)),
        (b"1700000000 openevse/state 3", (1700000000_000000000, "openevse/state", b"3", 0, 0)),
    ],
)
def test_parse_any_tells_hex_lines_from_text(line: bytes, expected: tuple) -> None:
    assert parse_any(line) == expected


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"12 0 0 a/b 7a", "outside 2000..2100"),
        (b"x 0 0 a/b 7a", "Unix time"),
        (b"1700000000 0 0 a/# 7a", "wildcard"),
        (b"1700000000 0 0 \xff 7a", "not UTF-8"),
    ],
)
def test_a_bad_hex_line_says_why(line: bytes, reason: str) -> None:
    with pytest.raises(LineError, match=reason):
        parse_any(line)


def run_import(
    db_url: str, tmp_path: Path, *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess:
    config = tmp_path / "import.ini"
    config.write_text(f"[database]\nurl = {db_url}\n")
    return subprocess.run(
        [sys.executable, "-m", "chargelog.cli", "--config", str(config), "import", *args],
        input=stdin,
        capture_output=True,
        timeout=120,
        cwd=tmp_path,
    )


SAMPLE = (
    b"1700000000.000001 openevse/state 2\n"
    b"1700000000.000001 openevse/state 2\n"  # an identical line: kept, it may be a real repeat
    b"garbage\n"
    b"\n"
    b"1700000001 openevse/amp \n"
    b'1700000002 openevse/config {"a": 1, "b": "x y"}\n'
    b"1700000003 openevse/state 3"  # no final newline
)


def test_import_then_reimport_adds_nothing(db_url: str, store: Store, tmp_path: Path) -> None:
    path = tmp_path / "capture.txt"
    path.write_bytes(SAMPLE)
    first = run_import(db_url, tmp_path, str(path))
    assert first.returncode == 0, first.stderr
    assert b"imported 5 new message(s)" in first.stdout
    assert f"{path}:3: skipped".encode() in first.stderr
    got = list(entries.iter_all(store))
    assert [(e.topic, e.payload) for e in got] == [
        ("openevse/state", b"2"),
        ("openevse/state", b"2"),
        ("openevse/amp", b""),
        ("openevse/config", b'{"a": 1, "b": "x y"}'),
        ("openevse/state", b"3"),
    ]
    assert got[0].received_at.timestamp() == pytest.approx(1700000000.000001, abs=1e-6)
    store.rollback()

    second = run_import(db_url, tmp_path, str(path))
    assert second.returncode == 0
    assert b"imported 0 new message(s)" in second.stdout and b"5 already" in second.stdout
    assert entries.count(store) == 5
    store.rollback()

    # A longer capture that overlaps the first adds only what is new.
    longer = tmp_path / "longer.txt"
    longer.write_bytes(SAMPLE + b"\n1700000004 openevse/state 1\n")
    third = run_import(db_url, tmp_path, str(longer))
    assert b"imported 1 new message(s)" in third.stdout
    assert entries.count(store) == 6


def test_import_from_stdin(db_url: str, store: Store, tmp_path: Path) -> None:
    result = run_import(db_url, tmp_path, "-", stdin=b"1700000000 openevse/state 1\n")
    assert result.returncode == 0, result.stderr
    assert [e.payload for e in entries.iter_all(store)] == [b"1"]


def test_missing_file_is_a_clear_error(db_url: str, tmp_path: Path) -> None:
    result = run_import(db_url, tmp_path, str(tmp_path / "nope.txt"))
    assert result.returncode == 2
    assert b"nope.txt" in result.stderr and b"Traceback" not in result.stderr
