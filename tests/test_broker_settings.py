"""The README's broker advice, checked: OpenEVSE publishes at QoS 0, and only with
`upgrade_outgoing_qos true` does Mosquitto queue those messages for the recorder while it is
stopped. Without it they are lost, whatever the recorder does."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from journal.mqtt_client import release
from journal.storage import Store
from tests.recorder_support import journal_count, read_journal, running_recorder, write_config
from tests.services import PrivateBroker

pytestmark = [pytest.mark.mqtt, pytest.mark.timeout(60)]


def publish_qos0(port: int, topic: str, payloads: list[bytes]) -> None:
    """Like the charger: QoS 0, fire and forget (then a clean disconnect flushes the socket)."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="fake-openevse")
    client.connect("127.0.0.1", port)
    client.loop_start()
    for payload in payloads:
        client.publish(topic, payload, qos=0).wait_for_publish(5)
    client.disconnect()
    release(client)


@pytest.mark.parametrize(("upgrade", "kept"), [(True, True), (False, False)])
def test_qos0_messages_wait_for_a_stopped_recorder_only_with_upgrade_outgoing_qos(
    upgrade: bool, kept: bool, db_url: str, store: Store, tmp_path: Path, topic_prefix: str
) -> None:
    broker = PrivateBroker(
        tmp_path / "broker", extra="upgrade_outgoing_qos true\n" if upgrade else ""
    )
    broker.start()
    try:
        config = write_config(
            tmp_path, broker_port=broker.port, db_url=db_url, topics=f"{topic_prefix}/#"
        )
        topic = f"{topic_prefix}/state"
        with running_recorder(config) as recorder:  # subscribe once: the session now exists
            publish_qos0(broker.port, topic, [b"live"])
            deadline = time.monotonic() + 10
            while journal_count(store) < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            recorder.signal(signal.SIGTERM)
            assert recorder.wait(10) == 0
        away = [b"%d" % i for i in range(50)]
        publish_qos0(broker.port, topic, away)  # the recorder is stopped
        with running_recorder(config):
            time.sleep(2)
            payloads = [e.payload for e in read_journal(store)]
        assert payloads[0] == b"live"
        if kept:
            assert payloads[1:] == away
            assert {e.qos for e in read_journal(store)[1:]} == {1}
        else:
            assert payloads == [b"live"]
    finally:
        broker.stop()
