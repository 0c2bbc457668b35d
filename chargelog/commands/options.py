"""Options and argument types more than one command takes, written once."""

from __future__ import annotations

import argparse
from datetime import date

DEFAULT_WAIT = 60.0


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
