"""The vehicles sessions are billed to, with their RFID tags, the same on SQLite and MariaDB.

A vehicle is input, like a tariff: the projection reads it and a rebuild never touches it. Its
name is how people say it ("Company Zoe"); names and tags are unique, and checked here so that
a clash is one clear line rather than a database error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from journal.entries import stored_text
from journal.storage import Store

NAME_MAX, PLATE_MAX, NOTE_MAX, TAG_MAX, CHARGER_MAX = 64, 32, 255, 64, 255


@dataclass(frozen=True)
class Vehicle:
    name: str
    plate: str = ""
    note: str = ""
    rfid: tuple[str, ...] = field(default_factory=tuple)
    default_charger: str | None = None
    id: int = 0


def checked(vehicle: Vehicle) -> Vehicle:
    """The vehicle with its texts trimmed, or ValueError naming what is wrong."""
    name = vehicle.name.strip()
    if not name or len(name) > NAME_MAX:
        raise ValueError(f"a vehicle's name needs 1 to {NAME_MAX} characters")
    plate, note = vehicle.plate.strip(), vehicle.note.strip()
    if len(plate) > PLATE_MAX:
        raise ValueError(f"a plate has at most {PLATE_MAX} characters")
    if len(note) > NOTE_MAX:
        raise ValueError(f"a note has at most {NOTE_MAX} characters")
    tags = tuple(tag.strip() for tag in vehicle.rfid)
    if any(not tag or len(tag) > TAG_MAX or " " in tag for tag in tags):
        raise ValueError(f"an RFID tag is 1 to {TAG_MAX} characters without spaces")
    if len(set(tags)) != len(tags):
        raise ValueError("an RFID tag is given twice")
    charger = vehicle.default_charger.strip() if vehicle.default_charger is not None else None
    if charger is not None and not 0 < len(charger) <= CHARGER_MAX:
        raise ValueError(f"a charger's name needs 1 to {CHARGER_MAX} characters")
    return Vehicle(name, plate, note, tags, charger, vehicle.id)


def add_vehicle(store: Store, vehicle: Vehicle) -> int:
    """Store a vehicle and its tags in one transaction; its new id. ValueError when the name or
    a tag is taken (or the vehicle is not valid)."""
    vehicle = checked(vehicle)
    with store.transaction():
        if store.query_one("SELECT id FROM vehicle WHERE name = ?", (vehicle.name,)):
            raise ValueError(f"there is a vehicle named {vehicle.name!r} already")
        for tag in vehicle.rfid:
            owner = store.query_one(
                "SELECT v.name FROM vehicle_rfid r JOIN vehicle v ON v.id = r.vehicle_id "
                "WHERE r.tag = ?",
                (tag,),
            )
            if owner:
                raise ValueError(f"RFID tag {tag!r} belongs to {owner[0]!r}")
        new_id = store.insert_id(
            "INSERT INTO vehicle (name, plate, note, default_charger, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                vehicle.name,
                vehicle.plate,
                vehicle.note,
                vehicle.default_charger,
                stored_text(datetime.now(UTC)),
            ),
        )
        for tag in vehicle.rfid:
            store.execute("INSERT INTO vehicle_rfid (tag, vehicle_id) VALUES (?, ?)", (tag, new_id))
        return new_id


def list_vehicles(store: Store) -> list[Vehicle]:
    """Every vehicle by name, with its tags."""
    tags: dict[int, list[str]] = {}
    for tag, vehicle_id in store.query("SELECT tag, vehicle_id FROM vehicle_rfid ORDER BY tag"):
        tags.setdefault(int(vehicle_id), []).append(str(tag))
    rows = store.query(
        "SELECT id, name, plate, note, default_charger FROM vehicle ORDER BY name, id"
    )
    store.rollback()
    return [
        Vehicle(
            str(name),
            str(plate),
            str(note),
            tuple(tags.get(int(vehicle_id), ())),
            None if charger is None else str(charger),
            int(vehicle_id),
        )
        for vehicle_id, name, plate, note, charger in rows
    ]


def remove_vehicle(store: Store, name: str) -> bool:
    """Delete a vehicle and its tags; False when there is none of that name."""
    with store.transaction():
        row = store.query_one("SELECT id FROM vehicle WHERE name = ?", (name.strip(),))
        if row is None:
            return False
        store.execute("DELETE FROM vehicle_rfid WHERE vehicle_id = ?", (row[0],))
        return store.execute("DELETE FROM vehicle WHERE id = ?", (row[0],)) > 0


def vehicle_table(vehicles: list[Vehicle]) -> str:
    """`vehicle list`: one line each, its name first."""
    if not vehicles:
        return "no vehicles\n"
    lines = []
    for v in vehicles:
        parts = [v.name]
        if v.plate:
            parts.append(f"plate {v.plate}")
        if v.rfid:
            parts.append("rfid " + ", ".join(v.rfid))
        if v.default_charger:
            parts.append(f"default on {v.default_charger}")
        if v.note:
            parts.append(f"({v.note})")
        lines.append("  ".join(parts))
    return "\n".join(lines) + "\n"
