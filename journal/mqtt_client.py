"""Building the paho-mqtt 2.x client for a persistent, manually acknowledged QoS 1 session."""

from __future__ import annotations

import ssl

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
