"""The recorder on a healthy path: each QoS 1 message lands in the journal once, in order, with
its bytes, topic and flags unchanged. Real broker (private mosquitto), real databases."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from journal.storage import Store
from tests.recorder_support import (
    publisher,
    read_journal,
    running_recorder,
    wait_for_journal,
    write_config,
)
from tests.services import PrivateBroker

pytestmark = [pytest.mark.mqtt, pytest.mark.timeout(60)]

# (topic suffix, payload): what OpenEVSE sends and what it might send one day.
PAYLOADS = [
    ("empty", b""),
    ("every-byte", bytes(range(256))),
    ("not-utf8", b"\xc3\x28 caf\xe9 \xff\xfe\x80"),
    ("percent", b"100% %s %(x)s %% ? ?? \\ ' \""),
    ("nul", b"\x00"),
    ("json", b'{"amp":16000,"state":3}'),
    ("200kb", random.Random(7).randbytes(200 * 1024)),
    ("utf8-topic/\u00e9tat", "d\u00e9j\u00e0 \u26a1".encode()),
]
STREAM = 300  # plain messages after the table: several batches, order must hold across them


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_every_message_lands_once_in_order_byte_exact(
    protocol: str,
    db_url: str,
    store: Store,
    broker: PrivateBroker,
    topic_prefix: str,
    tmp_path: Path,
) -> None:
    """The journal is the source of truth: one row per QoS 1 message, unaltered, in order."""
    config = write_config(
        tmp_path,
        broker_port=broker.port,
        db_url=db_url,
        topics=f"{topic_prefix}/#",
        protocol=protocol,
    )
    expected = [(f"{topic_prefix}/{name}", payload) for name, payload in PAYLOADS]
    expected += [(f"{topic_prefix}/openevse/amp", b"%d" % i) for i in range(STREAM)]
    with running_recorder(config) as recorder, publisher(broker.port) as pub:
        for topic, payload in expected:
            pub.publish(topic, payload)
        wait_for_journal(store, lambda e: len(e) >= len(expected), recorder=recorder)
        time.sleep(0.5)  # a duplicate, if any, would show up by now
        entries = read_journal(store)
    got = [(e.topic, e.payload) for e in entries]
    assert len(got) == len(expected)
    for index, (have, want) in enumerate(zip(got, expected, strict=True)):
        assert have == want, (
            f"row {index}: {have[0]!r} {have[1][:40]!r} != {want[0]!r} {want[1][:40]!r}"
        )
    assert {(e.qos, e.retained) for e in entries} == {(1, False)}
    assert [e.seq for e in entries] == sorted(e.seq for e in entries)


@pytest.mark.parametrize(
    ("before_subscribe", "retained"),
    [
        (True, True),  # the broker hands the retained message to a new subscription: retain=1
        (False, False),  # to an existing subscription it is forwarded as a live message: retain=0
    ],
    ids=["retained-on-subscribe", "live"],
)
def test_retained_flag_is_stored(
    before_subscribe: bool,
    retained: bool,
    db_url: str,
    store: Store,
    broker: PrivateBroker,
    topic_prefix: str,
    tmp_path: Path,
) -> None:
    """The projector must tell a retained (possibly stale) status from a live one."""
    config = write_config(
        tmp_path, broker_port=broker.port, db_url=db_url, topics=f"{topic_prefix}/#"
    )
    topic = f"{topic_prefix}/openevse/state"
    with publisher(broker.port) as pub:
        if before_subscribe:
            pub.publish(topic, b"3", retain=True)
        with running_recorder(config) as recorder:
            if not before_subscribe:
                pub.publish(topic, b"3", retain=True)
            wait_for_journal(store, lambda e: len(e) >= 1, recorder=recorder)
            time.sleep(0.3)
    assert [(e.topic, e.payload, e.qos, e.retained) for e in read_journal(store)] == [
        (topic, b"3", 1, retained)
    ]
