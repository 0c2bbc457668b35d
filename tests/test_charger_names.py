"""One charger, several names (issue 12): `[chargers] garage = openevse, openevse-ab12` makes a
charger renamed by its owner, or upgraded from 2.x `openevse` to 5.x `openevse-ab12`, one
charger under its display name, in the sessions, the totals, the health page and the detail
curve; a change of the names rebuilds the projection."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from journal.config import ChargersConfig, Config, ConfigError, DatabaseConfig, load_config
from journal.storage import Store
from projector.announces import Device, devices_from, suggestions
from projector.catchup import project_or_rebuild
from projector.fleet import Fleet
from projector.runner import VersionMismatch, project_pass
from tests.charge_script import Script, run
from tests.test_projection_store import journal
from tests.test_web_detail import seal_before
from webapp import create_app

GARAGE = ChargersConfig((("Garage", ("openevse", "openevse-ab12")),))


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.ini"
    path.write_text(text)
    return str(path)


def test_the_section_maps_display_names_to_base_topics(tmp_path: Path) -> None:
    cfg = load_config(
        _write(tmp_path, "[chargers]\nGarage = openevse, openevse-ab12\nstreet = evse-2\n"), {}
    )
    assert cfg.chargers.names == (
        ("Garage", ("openevse", "openevse-ab12")),
        ("street", ("evse-2",)),
    )
    assert cfg.chargers.display_names() == {
        "openevse": "Garage",
        "openevse-ab12": "Garage",
        "evse-2": "street",
    }
    assert cfg.chargers.bases_of("Garage") == ("openevse", "openevse-ab12")
    assert cfg.chargers.bases_of("other") == ("other",)
    assert load_config(_write(tmp_path, "[mqtt]\nHost = broker\n"), {}).mqtt.host == "broker"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[chargers]\na = openevse\nb = openevse\n", "[chargers] b: base topic 'openevse'"),
        (
            "[chargers]\na = openevse/+\n",
            "[chargers] a: 'openevse/+' is not a charger's base topic",
        ),
        ("[chargers]\na = ,\n", "[chargers] a: needs at least one base topic"),
    ],
)
def test_a_bad_entry_names_its_key(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(named)):
        load_config(_write(tmp_path, text), {})


def _upgraded_while_plugged() -> list[tuple[float, str, bytes, bool]]:
    """A 2.x unit on the default base `openevse` charges; then the owner upgrades it to 5.x
    (base `openevse-ab12`) while the car stays plugged, and it charges on and is unplugged."""
    old = Script(firmware="2.x", charger="openevse")
    old.idle(1, 1).plug().state(3).charge(30).state(2).idle(5, 2)
    new = Script(firmware="5.x", charger="openevse-ab12", t=old.t + 60, car=True)
    new.session_counter = 0.0
    new.idle(2, 2).state(3).charge(20).state(2).unplug().idle(2, 1)
    new.plug().state(3).charge(10).state(2).unplug()
    return old.messages + new.messages


def test_an_upgrade_under_a_new_base_stays_one_charger() -> None:
    fleet = Fleet(names=GARAGE.display_names())
    for seq, (t, topic, payload, retained) in enumerate(_upgraded_while_plugged(), start=1):
        fleet.feed(seq, round(t * 1e6), topic, payload, retained)
    plugins = sorted(fleet.drain().plugins.values(), key=lambda p: p.plugged_at)
    assert [p.charger for p in plugins] == ["Garage", "Garage"]
    assert all(p.unplugged_at is not None for p in plugins)
    assert [round(p.energy_wh) for p in plugins] == [3600 + 2400, 1200]
    assert set(fleet.machines) == {"Garage"}
    assert Fleet.names_of(fleet.to_json()) == GARAGE.display_names()


def test_without_the_names_the_old_base_keeps_its_own_sessions() -> None:
    fleet = Fleet()
    for seq, (t, topic, payload, retained) in enumerate(_upgraded_while_plugged(), start=1):
        fleet.feed(seq, round(t * 1e6), topic, payload, retained)
    assert set(fleet.machines) == {"openevse", "openevse-ab12"}


def test_new_names_rebuild_the_projection(store: Store, db_url: str) -> None:
    journal(store, sorted(_upgraded_while_plugged(), key=lambda m: m[0]))
    project_pass(store)
    before = {str(r[0]) for r in store.query("SELECT charger FROM plugin_session")}
    assert before == {"openevse", "openevse-ab12"}
    store.rollback()
    names = GARAGE.display_names()
    with pytest.raises(VersionMismatch, match=r"\[chargers\] names changed"):
        project_pass(store, names=names)
    done = project_or_rebuild(store, names=names)
    assert "[chargers]" in done.reason and done.rebuilt is not None
    after = store.query("SELECT charger, energy_wh FROM plugin_session ORDER BY plugged_at")
    assert [(str(c), round(float(e))) for c, e in after] == [("Garage", 6000), ("Garage", 1200)]
    store.rollback()
    assert project_pass(store, names=names).entries == 0  # and from now on, passes go on
    cfg = Config(database=DatabaseConfig(url=db_url), chargers=GARAGE)
    client = create_app(cfg, {"TESTING": True}).test_client()
    first, _ = client.get("/api/sessions?charger=Garage").json
    assert first["charger"] == "Garage" and first["unplugged_at"] is not None
    chargers = client.get("/health", headers={"Accept": "application/json"}).json["chargers"]
    assert [c["name"] for c in chargers] == ["Garage"]
    page = client.get(f"/sessions/{first['id']}").text
    # The curve reads both base topics: the 5.x part of the plug-in has its power readings.
    embedded = page[page.index('id="session-series">') + len('id="session-series">') :]
    series = json.loads(embedded[: embedded.index("</script>")])
    assert max(p for p in series["power_kw"] if p is not None) > 7


def _announce(base: str, name: str = "Garage box") -> bytes:
    doc = {"state": "connected", "id": "ab12", "name": name, "mqtt": base, "http": "http://x/"}
    return json.dumps(doc).encode()


def test_announces_give_devices_and_suggest_the_names() -> None:
    payloads = [_announce("openevse"), b"not json", b'{"state":"disconnected"}']
    payloads += [_announce("openevse-ab12", "garage"), _announce("openevse-ab12", "garage")]
    (device,) = devices_from(payloads)
    assert device == Device("ab12", "garage", ("openevse", "openevse-ab12"))
    assert suggestions([device], {}) == ["garage = openevse, openevse-ab12"]
    assert suggestions([device], GARAGE.display_names()) == []
    assert suggestions([device], {"openevse": "Old"}) == ["Old = openevse, openevse-ab12"]


def test_the_health_page_suggests_the_line_for_a_renamed_charger(store: Store, db_url: str) -> None:
    messages = sorted(_upgraded_while_plugged(), key=lambda m: m[0])
    first, last = messages[0][0], messages[-1][0]
    messages.insert(0, (first, "openevse/announce/ab12", _announce("openevse"), False))
    messages.append((last, "openevse/announce/ab12", _announce("openevse-ab12"), False))
    journal(store, messages)
    project_pass(store)
    client = create_app(Config(database=DatabaseConfig(url=db_url)), {"TESTING": True})
    health = client.test_client().get("/health", headers={"Accept": "application/json"}).json
    assert health["chargers_suggested"] == ["Garage box = openevse, openevse-ab12"]
    assert health["announced"] == [
        {"id": "ab12", "name": "Garage box", "bases": ["openevse", "openevse-ab12"]}
    ]
    page = client.test_client().get("/health").text
    assert "[chargers]\nGarage box = openevse, openevse-ab12\n" in page
    named = create_app(Config(database=DatabaseConfig(url=db_url), chargers=GARAGE), {})
    again = named.test_client().get("/health", headers={"Accept": "application/json"}).json
    assert again["chargers_suggested"] == []
    # Sealed, the announces are still read (from the segments of `openevse/announce`).
    assert seal_before(store, round(last * 1e6) + 86_400_000_000) == len(messages)
    assert store.query_one("SELECT COUNT(*) FROM journal") == (0,)
    store.rollback()
    sealed = client.test_client().get("/health", headers={"Accept": "application/json"}).json
    assert sealed["announced"] == health["announced"]


def test_a_base_silent_for_good_ends_its_plug_in() -> None:
    """A charger renamed while a car is plugged: the old base falls silent, the new one speaks.
    Twelve hours on, the old base's plug-in ends where the car was last known connected, and
    its cycle with it, instead of "charging now" for ever."""
    old = Script(firmware="5.x", charger="openevse-old")
    old.idle(1, 1).plug().state(3).charge(10)
    renamed = Script(firmware="5.x", charger="openevse-new", t=old.t + 60, car=True)
    renamed.idle(14 * 60, 3)
    changes = run(old.messages + renamed.messages)
    (gone,) = [p for p in changes.plugins.values() if p.charger == "openevse-old"]
    assert gone.closed and gone.unplugged_at == gone.last_connected_at
    assert "unplug_inferred" in gone.flags and gone.flags["gap"] > 12 * 3600
    (cycle,) = [c for c in changes.cycles.values() if c.charger == "openevse-old"]
    assert cycle.end_reason == "gap" and cycle.energy_wh == pytest.approx(1200.0)
    # Eleven hours are not enough: a charger off for a night keeps its plug-in.
    short = Script(firmware="5.x", charger="openevse-new", t=old.t + 60, car=True)
    short.idle(11 * 60, 3)
    changes = run(old.messages + short.messages)
    (kept,) = [p for p in changes.plugins.values() if p.charger == "openevse-old"]
    assert not kept.closed


def test_a_recorder_blind_for_a_day_ends_no_plug_in() -> None:
    """The recorder heard nothing for 13 hours (it was down): when it hears again, the charger
    that speaks a second after another one is not gone, and keeps its plug-in."""
    a = Script(firmware="5.x", charger="openevse-aaaa")
    a.idle(1, 1).plug().state(3).charge(10).state(2).idle(5, 2)
    b = Script(firmware="5.x", charger="openevse-bbbb", t=a.t - 300)
    b.idle(10, 1)
    a.wait(13 * 3600)
    b.t = a.t - 1.0
    b.idle(30, 1)
    a.idle(30, 2)
    changes = run(a.messages + b.messages)
    (plugin,) = [p for p in changes.plugins.values() if p.charger == "openevse-aaaa"]
    assert not plugin.closed
