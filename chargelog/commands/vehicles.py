"""`chargelog vehicle list|add|remove`: the vehicles sessions are billed to (projector/vehicles.py).

Bad input is one line (`chargelog vehicle add: ...`) and exit code 2, as for tariffs.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from chargelog.commands.options import Apply, BadInput, checked, input_handler
from journal.config import Config

if TYPE_CHECKING:
    from journal.storage import Store


def register(subparsers: argparse._SubParsersAction) -> None:
    sub = subparsers.add_parser(
        "vehicle",
        help="list, add or remove the vehicles sessions are billed to",
        description="Vehicles (or drivers): a name, an optional plate and note, RFID tags, and "
        "a charger whose sessions are the vehicle's by default.",
    )
    actions = sub.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="print every vehicle").set_defaults(
        handler=input_handler(_list, "vehicle list")
    )
    add = actions.add_parser("add", help="add a vehicle")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--plate", default="", metavar="P", help="its registration plate")
    add.add_argument(
        "--rfid",
        action="append",
        default=[],
        metavar="TAG",
        help="an RFID tag's UID, as the charger publishes it in rfid_auth; repeatable",
    )
    add.add_argument(
        "--charger", metavar="NAME", help="sessions of this charger are the vehicle's by default"
    )
    add.add_argument("--note", default="", metavar="TEXT")
    add.set_defaults(handler=input_handler(_add, "vehicle add"))
    remove = actions.add_parser("remove", help="remove a vehicle and its tags")
    remove.add_argument("name", metavar="NAME")
    remove.set_defaults(handler=input_handler(_remove, "vehicle remove"))


def _list(args: argparse.Namespace, cfg: Config) -> Apply:
    from projector.vehicles import list_vehicles, vehicle_table

    def apply(store: Store) -> int:
        sys.stdout.write(vehicle_table(list_vehicles(store)))
        return 0

    return apply


def _add(args: argparse.Namespace, cfg: Config) -> Apply:
    from projector.vehicles import Vehicle, add_vehicle
    from projector.vehicles import checked as valid

    vehicle = checked(
        valid, Vehicle(args.name, args.plate, args.note, tuple(args.rfid), args.charger)
    )

    def apply(store: Store) -> int:
        new_id = checked(add_vehicle, store, vehicle)
        print(f"added vehicle {new_id}: {vehicle.name}")
        return 0

    return apply


def _remove(args: argparse.Namespace, cfg: Config) -> Apply:
    from projector.vehicles import remove_vehicle

    def apply(store: Store) -> int:
        if not remove_vehicle(store, args.name):
            raise BadInput(f"there is no vehicle named {args.name!r}")
        print(f"removed vehicle {args.name}")
        return 0

    return apply
