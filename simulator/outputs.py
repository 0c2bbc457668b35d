"""Where a simulation goes: `mosquitto_sub -v -F '%U %t %p'`-style lines for `chargelog import`,
QoS 0 publishes onto a broker paced by the simulated times (like OpenEVSE), and the ground truth
as JSON. Publishing waits until the client has written everything before disconnecting."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, BinaryIO

from journal.config import MqttConfig
from simulator.model import SimMessage

if TYPE_CHECKING:
    from simulator.traffic import Simulation

FLUSH_EVERY = 2000  # publishes between waits for the client to catch up (bounds its queue)
CONNECT_TIMEOUT = 10.0


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
