"""`chargelog simulate`: realistic OpenEVSE traffic into an import file or onto the broker.

The traffic comes from projector.simulator; this module only turns options into a spec and
writes or publishes the stream. Publishing is QoS 0 like OpenEVSE, paced by the simulated times
(`--speed`), and waits until the client has written everything before disconnecting.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, BinaryIO

from journal.config import Config, MqttConfig

# Only the light definitions at import time: every `chargelog` command builds this parser, and
# the simulator proper is imported by the sub-command that runs it.
from projector.sim_model import FIRMWARES, SimMessage, SimulationSpec, parse_faults, parse_list

if TYPE_CHECKING:
    from projector.simulator import Simulation

FLUSH_EVERY = 2000  # publishes between waits for the client to catch up (bounds its queue)
CONNECT_TIMEOUT = 10.0


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


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
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
        "--start", type=_date, metavar="YYYY-MM-DD", help="first day, UTC (default: D days ago)"
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
    sub.set_defaults(handler=run)
    return sub


def build_spec(args: argparse.Namespace, now: datetime | None = None) -> SimulationSpec:
    if args.start is not None:
        start = datetime(args.start.year, args.start.month, args.start.day, tzinfo=UTC)
    else:
        ago = (now or datetime.now(UTC)) - timedelta(days=args.days)
        start = ago.replace(hour=0, minute=0, second=0, microsecond=0)
    from projector.simulator import default_chargers

    chargers = default_chargers(args.chargers, args.firmware, args.seed, args.base)
    return SimulationSpec(
        chargers, start, args.days, args.seed, args.faults, idle_dump_interval=args.idle_dump
    )


def run(args: argparse.Namespace, cfg: Config) -> int:
    try:
        spec = build_spec(args)
    except ValueError as exc:
        print(f"chargelog simulate: {exc}", file=sys.stderr)
        return 2
    from projector.simulator import simulate

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


def summary(sim: Simulation, count: int, where: str) -> str:
    spec = sim.spec
    return (
        f"simulated {count} messages {where}: {len(spec.chargers)} charger(s), "
        f"{spec.days:g} day(s) from {spec.start:%Y-%m-%d}, {len(sim.truth)} plug-ins, "
        f"{sim.cycle_count()} cycles, {sim.true_energy_wh() / 1000:.1f} kWh true energy"
    )


def truth_document(sim: Simulation) -> dict:
    """The ground truth as JSON-ready data (times in Unix seconds)."""
    spec = sim.spec
    return {
        "start": spec.start_ts,
        "end": spec.end_ts,
        "seed": spec.seed,
        "faults": sorted(spec.faults),
        "chargers": [asdict(c) for c in spec.chargers],
        "plugins": [asdict(p) for p in sim.truth],
        "injected": [asdict(i) for i in sim.injected],
    }


def write_lines(messages: Iterable[SimMessage], handle: BinaryIO) -> int:
    """`<unix-seconds.micro> <topic> <payload>` lines, as `chargelog import` reads them."""
    count = 0
    chunk: list[bytes] = []
    for message in messages:
        chunk.append(message.line())
        count += 1
        if len(chunk) >= 10000:
            handle.write(b"\n".join(chunk) + b"\n")
            chunk.clear()
    if chunk:
        handle.write(b"\n".join(chunk) + b"\n")
    handle.flush()
    return count


def _paced(messages: Iterable[SimMessage], speed: float) -> Iterator[SimMessage]:
    """Each message when its simulated time comes, `speed` times faster than real time."""
    if speed <= 0:
        yield from messages
        return
    origin: tuple[float, float] | None = None
    for message in messages:
        if origin is None:
            origin = (message.ts, time.monotonic())
        due = origin[1] + (message.ts - origin[0]) / speed
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        yield message


def publish(messages: Iterable[SimMessage], cfg: MqttConfig, speed: float) -> int:
    """Publish at QoS 0 with each message's retain flag; returns the count once all is sent.

    A dropped connection is an error rather than a silent loss (QoS 0 is never queued).
    """
    import ssl

    import paho.mqtt.client as mqtt

    from journal.mqtt_client import release

    protocol = mqtt.MQTTv5 if cfg.protocol == "5" else mqtt.MQTTv311
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=f"chargelog-simulate-{os.getpid()}",
        protocol=protocol,
    )
    if cfg.username:
        client.username_pw_set(cfg.username, cfg.password or None)
    if cfg.tls:
        client.tls_set(ca_certs=cfg.ca_file or None, cert_reqs=ssl.CERT_REQUIRED)
    connected = threading.Event()
    refused: list[str] = []

    def on_connect(client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            refused.append(str(reason))
        connected.set()

    client.on_connect = on_connect
    client.connect(cfg.host, cfg.port, cfg.keepalive)
    client.loop_start()
    count = 0
    try:
        if not connected.wait(CONNECT_TIMEOUT) or refused:
            raise RuntimeError(f"connection refused: {refused[0]}" if refused else "no CONNACK")
        info = None
        for message in _paced(messages, speed):
            info = client.publish(message.topic, message.payload, qos=0, retain=message.retained)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                raise RuntimeError(f"publish failed: {mqtt.error_string(info.rc)}")
            count += 1
            if count % FLUSH_EVERY == 0:
                _wait_written(client, info)
        if info is not None:
            _wait_written(client, info)
    finally:
        client.disconnect()
        release(client)
    return count


def _wait_written(client: Any, info: Any, timeout: float = 60.0) -> None:
    """A QoS 0 publish counts as published once written to the socket; messages go out in order,
    so the last one written means all before it were."""
    deadline = time.monotonic() + timeout
    while not info.is_published():
        if time.monotonic() > deadline or not client.is_connected():
            raise RuntimeError("the broker connection stalled or dropped while publishing")
        time.sleep(0.002)
