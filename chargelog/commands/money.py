"""`chargelog tariff list|add|remove` and `chargelog payment list|add|remove`.

Values are taken as plain strings and checked in the handler, so bad input gives one clear line
(`chargelog tariff add: ...`) and exit code 2 rather than argparse's usage dump. The database
code is imported by the handlers only: every `chargelog` command builds this parser.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import TYPE_CHECKING

from chargelog.commands.options import Apply, BadInput, Prepare, checked, input_handler
from journal.config import Config

if TYPE_CHECKING:
    from journal.storage import Store


def register(subparsers: argparse._SubParsersAction) -> None:
    _register_tariff(subparsers)
    _register_payment(subparsers)


def _register_tariff(subparsers: argparse._SubParsersAction) -> None:
    sub = subparsers.add_parser(
        "tariff",
        help="list, add or remove the prices per kWh",
        description="Prices per kWh from a local date on, with optional time-of-use bands.",
    )
    actions = sub.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="print every tariff and its bands").set_defaults(
        handler=input_handler(_lister("tariff"), "tariff list")
    )
    add = actions.add_parser("add", help="add a tariff")
    add.add_argument(
        "--from",
        dest="valid_from",
        required=True,
        metavar="YYYY-MM-DD",
        help="first local day it applies (inclusive)",
    )
    add.add_argument("--price", required=True, metavar="PRICE", help="base price per kWh")
    add.add_argument("--currency", default="EUR", metavar="CODE", help="default EUR")
    add.add_argument("--charger", metavar="NAME", help="only this charger (default: all)")
    add.add_argument(
        "--band",
        action="append",
        default=[],
        metavar='"DAYS HH:MM-HH:MM PRICE"',
        help='a time-of-use price, e.g. "mon-fri 22:00-07:00 0.0920"; repeatable',
    )
    add.add_argument("--note", default="", metavar="TEXT")
    add.set_defaults(handler=input_handler(_tariff_add, "tariff add"))
    remove = actions.add_parser("remove", help="remove a tariff and its bands")
    remove.add_argument("id", metavar="ID")
    remove.set_defaults(handler=input_handler(_remover("tariff"), "tariff remove"))


def _register_payment(subparsers: argparse._SubParsersAction) -> None:
    sub = subparsers.add_parser(
        "payment", help="list, add or remove payments received", description="Payments received."
    )
    actions = sub.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="print every payment").set_defaults(
        handler=input_handler(_lister("payment"), "payment list")
    )
    add = actions.add_parser("add", help="add a payment")
    add.add_argument("paid_on", metavar="DATE", help="the day it was paid (YYYY-MM-DD)")
    add.add_argument("amount", metavar="AMOUNT", help="e.g. 42.50 (negative for a refund)")
    add.add_argument("--currency", default="EUR", metavar="CODE", help="default EUR")
    add.add_argument("--note", default="", metavar="TEXT")
    add.set_defaults(handler=input_handler(_payment_add, "payment add"))
    remove = actions.add_parser("remove", help="remove a payment")
    remove.add_argument("id", metavar="ID")
    remove.set_defaults(handler=input_handler(_remover("payment"), "payment remove"))


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadInput(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _id(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise BadInput(f"{text!r} is not an id (a whole number from `list`)")
    return int(text)


def _tariff_add(args: argparse.Namespace, cfg: Config) -> Apply:
    from journal.amount_text import parse_currency, parse_price
    from projector.money.parsing import check_bands, parse_band
    from projector.money.store import add_tariff
    from projector.money.tariffs import Tariff

    bands = tuple(checked(parse_band, text) for text in args.band)
    checked(check_bands, bands)
    charger = args.charger.strip() if args.charger else None
    if args.charger is not None and not charger:
        raise BadInput("--charger needs a name (leave it out for all chargers)")
    tariff = Tariff(
        0,
        _day(args.valid_from),
        checked(parse_price, args.price),
        checked(parse_currency, args.currency),
        charger,
        bands,
        args.note,
    )

    def apply(store: Store) -> int:
        new_id = add_tariff(store, tariff)
        print(
            f"added tariff {new_id}: {tariff.price} {tariff.currency}/kWh from {tariff.valid_from}"
        )
        return 0

    return apply


def _payment_add(args: argparse.Namespace, cfg: Config) -> Apply:
    from journal.amount_text import parse_currency, parse_decimal
    from projector.money.store import Payment, add_payment

    amount = checked(lambda t: parse_decimal(t, "amount", 12, 2, allow_negative=True), args.amount)
    if amount == 0:
        raise BadInput("amount is 0")
    payment = Payment(
        0,
        _day(args.paid_on),
        amount,
        checked(parse_currency, args.currency),
        args.note,
    )

    def apply(store: Store) -> int:
        new_id = add_payment(store, payment)
        print(f"added payment {new_id}: {payment.amount} {payment.currency} on {payment.paid_on}")
        return 0

    return apply


def _lister(kind: str) -> Prepare:
    """`tariff list` and `payment list`: one shape, the kind names the store and the table."""

    def prepare(args: argparse.Namespace, cfg: Config) -> Apply:
        from projector.money import listing as output_money
        from projector.money import store as money_store
        from projector.money.pricing import config_tariff

        rows, table = getattr(money_store, f"list_{kind}s"), getattr(output_money, f"{kind}_table")
        # The [tariff] section prices sessions too: `tariff list` shows it, last.
        configured = config_tariff(cfg.tariff) if kind == "tariff" else None

        def apply(store: Store) -> int:
            sys.stdout.write(table([*rows(store), *([configured] if configured else [])]))
            return 0

        return apply

    return prepare


def _remover(kind: str) -> Prepare:
    """`tariff remove ID` and `payment remove ID`."""

    def prepare(args: argparse.Namespace, cfg: Config) -> Apply:
        from projector.money import store as money_store

        remove = getattr(money_store, f"remove_{kind}")
        item_id = _id(args.id)

        def apply(store: Store) -> int:
            if not remove(store, item_id):
                raise BadInput(f"there is no {kind} {item_id}")
            print(f"removed {kind} {item_id}")
            return 0

        return apply

    return prepare
