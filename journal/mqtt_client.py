"""Building the paho-mqtt 2.x client for a persistent, manually acknowledged QoS 1 session."""

from __future__ import annotations

import inspect
import ssl
import struct
from collections.abc import Callable, Sequence

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from journal.config import MqttConfig


def build_client(cfg: MqttConfig) -> mqtt.Client:
    """A client whose broker session survives our restarts, so the broker keeps what arrives
    while we are away, and which acknowledges only when we say so (after the commit)."""
    if cfg.protocol == "5":
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=cfg.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
    else:
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=cfg.client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            manual_ack=True,
        )
    # Never set suppress_exceptions: it acks (and so loses) a message whose callback failed.
    if cfg.username:
        client.username_pw_set(cfg.username, cfg.password or None)
    if cfg.tls:
        client.tls_set(ca_certs=cfg.ca_file or None, cert_reqs=ssl.CERT_REQUIRED)
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    return client


def connect_async(client: mqtt.Client, cfg: MqttConfig) -> None:
    """Start connecting; the network loop retries on its own until the broker answers."""
    if cfg.protocol == "5":
        properties = Properties(PacketTypes.CONNECT)
        # Without a session expiry and clean_start=False, MQTT 5 wipes the session at each start.
        properties.SessionExpiryInterval = cfg.session_expiry
        # Our receive window: how many unacknowledged messages the broker may send at once.
        properties.ReceiveMaximum = cfg.receive_maximum
        client.connect_async(
            cfg.host, cfg.port, cfg.keepalive, clean_start=False, properties=properties
        )
    else:
        client.connect_async(cfg.host, cfg.port, cfg.keepalive)


_PUBACK = struct.Struct("!BBH")  # PUBACK, remaining length 2, packet id (MQTT 3.1.1 and 5)


def puback_writer(client: mqtt.Client) -> Callable[[Sequence[int]], None] | None:
    """A function that queues the PUBACKs for many QoS 1 messages, in the order given, as ONE
    write. `client.ack()` costs, per message, a wake-up of paho's network thread and a send(); at
    thousands of messages a second that is a large part of the recorder's CPU.

    It calls the same internal method `ack()` calls (`_packet_queue`, paho 2.0 to 2.2), with the
    bytes `ack()` would produce (an MQTT 5 PUBACK with reason Success may omit the reason code,
    as paho's own does). None if this paho differs: the caller then uses `ack()`."""
    queue = getattr(client, "_packet_queue", None)
    if not callable(queue):
        return None
    try:
        names = list(inspect.signature(queue).parameters)[:4]
    except (TypeError, ValueError):
        names = []
    if names != ["command", "packet", "mid", "qos"]:
        return None
    pack = _PUBACK.pack
    puback = mqtt.PUBACK

    def send(mids: Sequence[int]) -> None:
        queue(puback, b"".join([pack(puback, 2, mid) for mid in mids]), 0, 0)

    return send


def release(client: mqtt.Client) -> None:
    """Stop the network thread and close paho's wake-up socket pair now: paho closes it only in
    `__del__`, and a client caught in a reference cycle leaves it to the garbage collector."""
    client.loop_stop()
    client._reset_sockets(sockpair_only=True)  # no public API for it in paho 2.x
