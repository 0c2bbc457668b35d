"""A corpus of captures, one file per situation, in the lines `chargelog import` reads
(`mosquitto_sub -F '%U %t %p'`, or `'%U %r %q %t %x'`): each firmware generation's real key set
and order (the create_rapi_json of 3.x and 4.0-4.1.0 from their source, 4.1.1+/5.x as in
docs/openevse-mqtt.md), with what public threads show real payloads to be (`false`, exponents,
ISO times, JSON documents). Each file's header says, in words and in its `expect:` lines, the
sessions a careful reader sees in it, written down before the projector ever read it:

    expect: HH:MM:SS (plug-in) HH:MM:SS|open (unplug) WH[~N%] cycles=REASON,... flags=NAME,-NAME

(`none` for a capture with no session; a flag with `-` must be absent). Times are UTC on the
capture's day; energy within 1 Wh, or N percent where it is estimated.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from journal.importer import ImportReport, import_stream, parse_any
from journal.storage import Store
from projector.fleet import Fleet
from projector.records import Plugin
from projector.runner import project_pass

CORPUS = Path(__file__).parent / "corpus"
FILES = sorted(CORPUS.glob("*.capture"))
EXPECT = re.compile(
    r"# expect: (?P<plugged>\S+) (?P<unplugged>\S+) (?P<wh>[0-9.]+)(?:~(?P<pct>[0-9.]+)%)? "
    r"cycles=(?P<cycles>\S+) flags=(?P<flags>\S+)"
)


@dataclass(frozen=True)
class Expected:
    plugged: str
    unplugged: str | None
    wh: float
    rel: float | None
    cycles: list[str | None]
    present: set[str]
    absent: set[str]


def expectations(path: Path) -> list[Expected]:
    out: list[Expected] = []
    lines = [line for line in path.read_text().splitlines() if line.startswith("# expect:")]
    assert lines, f"{path.name} says nothing about what it holds"
    for line in lines:
        if line == "# expect: none":
            continue
        match = EXPECT.fullmatch(line)
        assert match is not None, line
        flags = [f for f in match["flags"].split(",") if f and f != "-"]
        out.append(
            Expected(
                plugged=match["plugged"],
                unplugged=None if match["unplugged"] == "open" else match["unplugged"],
                wh=float(match["wh"]),
                rel=float(match["pct"]) / 100 if match["pct"] else None,
                cycles=[None if c == "open" else c for c in match["cycles"].split(",")],
                present={f for f in flags if not f.startswith("-")},
                absent={f[1:] for f in flags if f.startswith("-")},
            )
        )
    return out


def clock(micros: int) -> str:
    return datetime.fromtimestamp(micros / 1e6, UTC).strftime("%H:%M:%S")


def check(path: Path, plugins: list[Plugin], cycles: dict[int, list[tuple[str | None, float]]]):
    expected = expectations(path)
    assert len(plugins) == len(expected), [(clock(p.plugged_at), p.energy_wh) for p in plugins]
    for want, got in zip(expected, plugins, strict=True):
        assert clock(got.plugged_at) == want.plugged
        unplugged = None if got.unplugged_at is None else clock(got.unplugged_at)
        assert unplugged == want.unplugged
        if want.rel is None:
            assert got.energy_wh == pytest.approx(want.wh, abs=1.0)
        else:
            assert got.energy_wh == pytest.approx(want.wh, rel=want.rel)
        assert [reason for reason, _ in cycles[got.id]] == want.cycles
        assert sum(wh for _, wh in cycles[got.id]) == pytest.approx(got.energy_wh, abs=0.01)
        assert want.present <= got.flags.keys(), got.flags
        assert not want.absent & got.flags.keys(), got.flags


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_the_machine_sees_what_a_careful_reader_sees(path: Path) -> None:
    fleet = Fleet()
    with path.open("rb") as handle:
        for seq, line in enumerate(handle, start=1):
            if line.startswith(b"#"):
                continue
            ns, topic, payload, _, retained = parse_any(line.rstrip(b"\n"))
            fleet.feed(seq, ns // 1000, topic, payload, bool(retained))
    changes = fleet.drain()
    plugins = sorted(changes.plugins.values(), key=lambda p: p.plugged_at)
    cycles: dict[int, list[tuple[str | None, float]]] = {p.id: [] for p in plugins}
    for cycle in sorted(changes.cycles.values(), key=lambda c: c.id):
        cycles[cycle.plugin_id].append((cycle.end_reason, cycle.energy_wh))
    check(path, plugins, cycles)


def test_the_corpus_covers_every_generation() -> None:
    stems = {p.stem.split("_")[0] for p in FILES}
    assert {"2x", "3x", "410", "41", "5x"} <= stems
    assert any(b" 1 0 " in p.read_bytes() for p in FILES)  # a `%U %r %q %t %x` capture


def test_the_corpus_imported_and_projected_through_the_store(store: Store) -> None:
    """The same files through `chargelog import`'s reader into the journal (headers are
    reported as skipped lines, nothing else is) and a projection pass: the same sessions."""
    report = ImportReport()
    for path in FILES:
        with path.open("rb") as handle:
            import_stream(store, path.name, handle, report)
    headers = sum(p.read_text().count("\n#") + p.read_text().startswith("#") for p in FILES)
    assert len(report.skipped) == headers
    project_pass(store)
    rows = store.query(
        "SELECT id, charger, plugged_at, unplugged_at, energy_wh, flags FROM plugin_session"
    )
    cycle_rows = store.query("SELECT plugin_id, end_reason, energy_wh FROM energySession")
    store.rollback()
    for path in FILES:
        with path.open("rb") as handle:
            bases = {
                parse_any(line.rstrip(b"\n"))[1].rpartition("/")[0]
                for line in io.BytesIO(handle.read())
                if not line.startswith(b"#")
            }
        mine = [r for r in rows if r[1] in bases]
        plugins = sorted(
            (
                Plugin(
                    id=int(r[0]),
                    charger=r[1],
                    plugged_at=_micros(r[2]),
                    last_connected_at=0,
                    unplugged_at=None if r[3] is None else _micros(r[3]),
                    energy_wh=float(r[4]),
                    flags=json.loads(r[5] or "{}"),
                )
                for r in mine
            ),
            key=lambda p: p.plugged_at,
        )
        cycles: dict[int, list[tuple[str | None, float]]] = {p.id: [] for p in plugins}
        for plugin_id, reason, wh in sorted(cycle_rows, key=lambda c: c[0]):
            if int(plugin_id) in cycles:
                cycles[int(plugin_id)].append((reason, float(wh)))
        check(path, plugins, cycles)


def _micros(value: object) -> int:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return round(moment.replace(tzinfo=UTC).timestamp() * 1e6)
