"""Vehicles (issue 13): `chargelog vehicle list|add|remove` and their store, on both backends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from journal.storage import Store
from projector.vehicles import Vehicle, add_vehicle, list_vehicles, remove_vehicle
from tests.charge_script import Script, fed
from tests.test_sessions_command import chargelog


def test_vehicles_add_list_remove(db_url: str, tmp_path: Path) -> None:
    run = chargelog(db_url, tmp_path, "vehicle", "add", "Company Zoe", "--plate", "AB-123-CD",
                    "--rfid", "04A1B2C3", "--rfid", "04FFEE01", "--charger", "garage",
                    "--note", "Acme SA")  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout == "added vehicle 1: Company Zoe\n"
    assert chargelog(db_url, tmp_path, "vehicle", "add", "Kona").returncode == 0
    listing = chargelog(db_url, tmp_path, "vehicle", "list").stdout.splitlines()
    assert listing == [
        "Company Zoe  plate AB-123-CD  rfid 04A1B2C3, 04FFEE01  default on garage  (Acme SA)",
        "Kona",
    ]
    removed = chargelog(db_url, tmp_path, "vehicle", "remove", "Company Zoe")
    assert removed.returncode == 0 and removed.stdout == "removed vehicle Company Zoe\n"
    assert chargelog(db_url, tmp_path, "vehicle", "list").stdout == "Kona\n"
    # its tags went with it: another vehicle may have them now
    again = chargelog(db_url, tmp_path, "vehicle", "add", "Zoe 2", "--rfid", "04A1B2C3")
    assert again.returncode == 0, again.stderr


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["add", "Kona"], "there is a vehicle named 'Kona' already"),
        (["add", "Ioniq", "--rfid", "04A1"], "RFID tag '04A1' belongs to 'Kona'"),
        (["add", "Ioniq", "--rfid", "x", "--rfid", "x"], "an RFID tag is given twice"),
        (["add", "Ioniq", "--rfid", "a b"], "an RFID tag is 1 to 64 characters without spaces"),
        (["add", "  "], "a vehicle's name needs 1 to 64 characters"),
        (["add", "x" * 65], "a vehicle's name needs 1 to 64 characters"),
        (["add", "Ioniq", "--plate", "p" * 33], "a plate has at most 32 characters"),
        (["remove", "Ioniq"], "there is no vehicle named 'Ioniq'"),
    ],
)
def test_bad_vehicle_input_is_one_line_and_changes_nothing(
    db_url: str, tmp_path: Path, args: list[str], error: str
) -> None:
    assert chargelog(db_url, tmp_path, "vehicle", "add", "Kona", "--rfid", "04A1").returncode == 0
    run = chargelog(db_url, tmp_path, "vehicle", *args)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines()[-1] == f"chargelog vehicle {args[0]}: {error}"
    assert chargelog(db_url, tmp_path, "vehicle", "list").stdout == "Kona  rfid 04A1\n"


def test_names_are_kept_as_typed_and_unique_by_case(store: Store) -> None:
    """Stored as text, never as markup (the page escapes it); `Zoe` and `zoe` are two names on
    both backends."""
    add_vehicle(store, Vehicle("<b>Zoe</b> & co", note="<script>alert(1)</script>"))
    add_vehicle(store, Vehicle("zoe"))
    add_vehicle(store, Vehicle("Zoe", rfid=("AA",)))
    names = [v.name for v in list_vehicles(store)]
    assert sorted(names) == sorted(["<b>Zoe</b> & co", "zoe", "Zoe"])
    (markup,) = [v for v in list_vehicles(store) if v.name.startswith("<b>")]
    assert markup.note == "<script>alert(1)</script>"
    assert remove_vehicle(store, "Zoe") and not remove_vehicle(store, "Zoe")
    assert store.query("SELECT tag FROM vehicle_rfid") == []


def _charge_with_tag(s: Script, tag: str) -> None:
    """5.x with RFID on: every dump carries `rfid_auth`, empty until the card authorises."""
    s.send("rfid_auth", "").idle(1, 1).send("rfid_auth", "")
    s.plug().send("rfid_auth", tag).state(3).charge(10).state(2)
    s.send("rfid_auth", tag).idle(1, 2).unplug().send("rfid_auth", "").idle(1, 1)


def test_the_tag_that_authorised_a_session_is_its_rfid() -> None:
    s = Script(firmware="5.x")
    _charge_with_tag(s, "04A1B2C3")
    s.plug().state(3).charge(5).state(2).unplug()  # a second charge with no card
    first, second = sorted(fed(s.messages).drain().plugins.values(), key=lambda p: p.plugged_at)
    assert first.rfid == "04A1B2C3" and second.rfid is None


def test_a_tag_heard_outside_a_plug_in_or_retained_or_junk_is_no_one_s() -> None:
    s = Script(firmware="5.x")
    s.idle(1, 1).send("rfid_auth", "04A1B2C3").idle(1, 1)  # no car: nobody's session
    s.plug().send("rfid_auth", "0FEED", retained=True).send("rfid_auth", "<b>x</b> y")
    s.state(3).charge(5).state(2).unplug()
    fleet = fed(s.messages)
    (plugin,) = fleet.drain().plugins.values()
    assert plugin.rfid is None and plugin.flags["bad_values"] == 1


def test_the_tag_reaches_the_session_json_through_the_journal(db_url: str, tmp_path: Path) -> None:
    """Journal-driven: the capture imported, projected, and `chargelog sessions` shows it."""
    s = Script(firmware="5.x")
    _charge_with_tag(s, "04A1B2C3")
    capture = tmp_path / "rfid.txt"
    capture.write_bytes(
        b"".join(b"%.6f %s %s\n" % (t, topic.encode(), p) for t, topic, p, _ in s.messages)
    )
    for args in (("import", str(capture)), ("project",)):
        done = chargelog(db_url, tmp_path, *args)
        assert done.returncode == 0, done.stderr
    listed = chargelog(db_url, tmp_path, "sessions", "--format", "json")
    (session,) = json.loads(listed.stdout)
    assert session["rfid"] == "04A1B2C3" and session["energy_wh"] == 1200.0
    rebuilt = chargelog(db_url, tmp_path, "project", "--rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    again = chargelog(db_url, tmp_path, "sessions", "--format", "json")
    assert json.loads(again.stdout) == [session]
