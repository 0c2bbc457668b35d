"""Vehicles (issue 13): `chargelog vehicle list|add|remove` and their store, on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from journal.storage import Store
from projector.vehicles import Vehicle, add_vehicle, list_vehicles, remove_vehicle
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
