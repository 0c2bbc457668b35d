"""`chargelog simulate`: realistic OpenEVSE traffic into an import file or onto the broker.

The traffic comes from simulator.traffic and goes out through simulator.outputs; this module
only turns options into a spec and says where the stream went.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from chargelog.commands.options import parse_date
from journal.config import Config

# Only the light definitions at import time: every `chargelog` command builds this parser, and
# the simulator proper is imported by the sub-command that runs it.
from simulator.model import FIRMWARES, SimulationSpec, parse_faults, parse_list

if TYPE_CHECKING:
    pass


def _firmwares(text: str) -> list[str]:
    try:
        items = parse_list(text, FIRMWARES, "firmware")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not items:
        raise argparse.ArgumentTypeError("needs at least one firmware")
    return items


def _faults(text: str) -> frozenset[str]:
    try:
        return parse_faults(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be more than 0")
        return value

    return parse


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError("the speed is 0 (as fast as possible) or more")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    sub = subparsers.add_parser(
        "simulate",
        help="generate realistic OpenEVSE MQTT traffic (import file or broker)",
        description="Simulate OpenEVSE chargers: plug-ins, charges, firmware counters and, on "
        "request, faults; write `chargelog import` lines or publish to the [mqtt] broker.",
    )
    sub.add_argument(
        "--chargers", type=_positive(int), default=2, metavar="N", help="how many (default 2)"
    )
    sub.add_argument(
        "--firmware",
        type=_firmwares,
        default=["5.x", "2.x"],
        metavar="LIST",
        help=f"comma-separated, cycled over the chargers: {', '.join(FIRMWARES)} (default 5.x,2.x)",
    )
    sub.add_argument(
        "--days", type=_positive(float), default=7.0, metavar="D", help="how long (default 7)"
    )
    sub.add_argument(
        "--start",
        type=parse_date,
        metavar="YYYY-MM-DD",
        help="first day, UTC (default: D days ago)",
    )
    sub.add_argument(
        "--seed", type=int, default=1, metavar="S", help="same seed, same traffic (default 1)"
    )
    sub.add_argument(
        "--faults",
        type=_faults,
        default=frozenset(),
        metavar="LIST",
        help="all, none (default) or a comma-separated list of: pause, fault, reboot, gap, "
        "retained, duplicates, junk, stale_unplug, start_sleeping",
    )
    sub.add_argument(
        "--base",
        metavar="NAME",
        default="openevse",
        help="base topic prefix instead of 'openevse' (e.g. t1/openevse keeps all under t1/)",
    )
    sub.add_argument(
        "--idle-dump",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="seconds between dumps while not charging (default 30, as the firmware)",
    )
    sub.add_argument(
        "--divert",
        type=float,
        default=None,
        metavar="SECONDS",
        help="solar divert on (3.x and newer): its event every that many seconds",
    )
    out = sub.add_mutually_exclusive_group(required=True)
    out.add_argument("--output", metavar="FILE", help="write import-file lines; - for stdout")
    out.add_argument("--publish", action="store_true", help="publish to the [mqtt] broker")
    sub.add_argument(
        "--speed",
        type=_speed,
        default=1.0,
        metavar="FACTOR",
        help="with --publish: 1 = real time, 3600 = an hour a second, 0 = as fast as possible",
    )
    sub.add_argument("--truth", metavar="FILE", help="also write the ground truth as JSON")
    sub.set_defaults(handler=cmd_simulate)


def build_spec(args: argparse.Namespace, now: datetime | None = None) -> SimulationSpec:
    if args.start is not None:
        start = datetime(args.start.year, args.start.month, args.start.day, tzinfo=UTC)
    else:
        ago = (now or datetime.now(UTC)) - timedelta(days=args.days)
        start = ago.replace(hour=0, minute=0, second=0, microsecond=0)
    from simulator.traffic import default_chargers

    chargers = default_chargers(args.chargers, args.firmware, args.seed, args.base)
    return SimulationSpec(
        chargers,
        start,
        args.days,
        args.seed,
        args.faults,
        idle_dump_interval=args.idle_dump,
        divert_interval=args.divert,
    )


def cmd_simulate(args: argparse.Namespace, cfg: Config) -> int:
    try:
        spec = build_spec(args)
    except ValueError as exc:
        print(f"chargelog simulate: {exc}", file=sys.stderr)
        return 2
    from simulator.outputs import publish, summary, truth_document, write_lines
    from simulator.traffic import simulate

    sim = simulate(spec)
    if args.publish:
        try:
            count = publish(sim.messages(), cfg.mqtt, args.speed)
        except (OSError, RuntimeError) as exc:
            where = f"{cfg.mqtt.host}:{cfg.mqtt.port}"
            print(f"chargelog simulate: cannot publish to {where}: {exc}", file=sys.stderr)
            return 1
        where = f"published to {cfg.mqtt.host}:{cfg.mqtt.port}"
    elif args.output == "-":
        count = write_lines(sim.messages(), sys.stdout.buffer)
        where = "written to stdout"
    else:
        try:
            with open(args.output, "wb") as handle:
                count = write_lines(sim.messages(), handle)
        except OSError as exc:
            print(f"chargelog simulate: {args.output}: {exc.strerror}", file=sys.stderr)
            return 1
        where = f"written to {args.output}"
    if args.truth:
        try:
            with open(args.truth, "w", encoding="utf-8") as handle:
                json.dump(truth_document(sim), handle, indent=1)
        except OSError as exc:
            print(f"chargelog simulate: {args.truth}: {exc.strerror}", file=sys.stderr)
            return 1
    print(summary(sim, count, where), file=sys.stderr)
    return 0
