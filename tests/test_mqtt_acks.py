"""Acknowledging a whole batch with one write (journal.mqtt_client.puback_writer): the broker must
take those PUBACKs exactly as it takes paho's own, on MQTT 3.1.1 and 5: what was acknowledged is
gone from the session, what was not comes again."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from journal.config import MqttConfig
from journal.mqtt_client import build_client, connect_async, puback_writer, release
from tests.services import PrivateBroker

pytestmark = pytest.mark.mqtt


def _session(cfg: MqttConfig, topic: str) -> tuple[mqtt.Client, list[mqtt.MQTTMessage]]:
    client = build_client(cfg)
    got: list[mqtt.MQTTMessage] = []
    subscribed = threading.Event()
    client.on_connect = lambda c, u, f, r, p: c.subscribe(topic, 1)
    client.on_subscribe = lambda *a: subscribed.set()
    client.on_message = lambda c, u, m: got.append(m)
    connect_async(client, cfg)
    client.loop_start()
    assert subscribed.wait(10), "no SUBACK"
    return client, got


def _wait_for(got: list[mqtt.MQTTMessage], count: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        time.sleep(0.02)


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_batched_pubacks_are_taken_like_single_ones(
    tmp_path: Path, topic_prefix: str, protocol: str
) -> None:
    broker = PrivateBroker(tmp_path / "broker")
    broker.start()
    try:
        cfg = MqttConfig(port=broker.port, client_id=f"{topic_prefix}-rec", protocol=protocol)
        topic = f"{topic_prefix}/amp"
        client, got = _session(cfg, f"{topic_prefix}/#")
        send = puback_writer(client)
        assert send is not None, "paho-mqtt no longer has the internal this relies on"

        publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        publisher.connect("127.0.0.1", broker.port)
        publisher.loop_start()
        for i in range(10):
            publisher.publish(topic, str(i).encode(), qos=1).wait_for_publish(5)
        publisher.disconnect()
        release(publisher)

        _wait_for(got, 10)
        assert [m.payload for m in got] == [str(i).encode() for i in range(10)]
        send([m.mid for m in got[:6]])  # the first six, in arrival order, as one write
        time.sleep(0.5)
        assert client.is_connected(), "the broker refused the batched PUBACKs"
        client.disconnect()
        release(client)

        again, redelivered = _session(cfg, f"{topic_prefix}/#")
        _wait_for(redelivered, 4)
        time.sleep(0.5)  # nothing more may come
        again.disconnect()
        release(again)
        assert [m.payload for m in redelivered] == [str(i).encode() for i in range(6, 10)]
    finally:
        broker.stop()
