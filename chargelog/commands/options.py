"""Options and argument types more than one command takes, written once."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, TypeVar

from journal.config import Config

if TYPE_CHECKING:
    from journal.storage import Store

DEFAULT_WAIT = 60.0
BAD_INPUT = 2
T = TypeVar("T")
Apply = Callable[["Store"], int]
Prepare = Callable[[argparse.Namespace, Config], Apply]


class BadInput(ValueError):
    """A value the user typed is wrong; the message says which and why."""


def input_handler(prepare: Prepare, name: str) -> Callable[[argparse.Namespace, Config], int]:
    """Check the input first (bad input never opens the database), then apply it to the
    migrated store; BadInput -> one line on stderr (`chargelog NAME: ...`), exit 2."""

    def run(args: argparse.Namespace, cfg: Config) -> int:
        from journal.migrate import ensure_schema
        from journal.storage import open_store

        try:
            apply = prepare(args, cfg)
            with open_store(cfg.database.url) as store:
                ensure_schema(store, cfg.database.auto_migrate)
                return apply(store)
        except BadInput as exc:
            print(f"chargelog {name}: {exc}", file=sys.stderr)
            return BAD_INPUT

    return run


def checked(parse: Callable[..., T], *values: object) -> T:
    """A parser's ValueError as the user's BadInput."""
    try:
        return parse(*values)
    except ValueError as exc:
        raise BadInput(str(exc)) from None


def parse_date(text: str) -> date:
    """A YYYY-MM-DD argument; argparse turns the error into a usage line."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def add_wait_option(parser: argparse.ArgumentParser) -> None:
    """`--wait SECONDS`: every command that projects waits for a running projector's lock."""
    parser.add_argument(
        "--wait",
        type=float,
        default=DEFAULT_WAIT,
        metavar="SECONDS",
        help=f"how long to wait for a running projector (default {DEFAULT_WAIT:g})",
    )
