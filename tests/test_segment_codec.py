"""The block codec (journal/segment_codec.py) on any messages: what goes in comes out, byte for
byte, and a damaged block or checksum is refused, never decoded into data."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journal import segment_codec
from journal.segment_codec import BlockError, Message

TOPICS = ["openevse-ab12/state", "openevse-ab12/amp", "openevse-ab12/voltage", "x", "é/ü/€", ""]


# Payloads that are numbers in their one spelling (kept as scaled differences) and near misses
# that must stay as they are: byte-exact either way.
NUMBER_LIKE = (
    st.sampled_from(
        [
            b"0",
            b"-0",
            b"-0.5",
            b"0.0",
            b"1.50",
            b"007",
            b"+1",
            b"1e5",
            b"2.862282e7",
            b" 3 ",
            b"-",
            b".5",
            b"5.",
            b"12345678901234567890123",
            b"0.1234567890123456789",
            b"-9.99",
        ]
    )
    | st.decimals(allow_nan=False, allow_infinity=False, places=None).map(
        lambda d: format(d, "f").encode()
    )
    | st.integers(-(2**70), 2**70).map(lambda i: b"%d" % i)
    | st.floats(allow_nan=False, allow_infinity=False).map(lambda f: repr(f).encode())
)


@st.composite
def message_lists(draw: st.DrawFn) -> list[Message]:
    count = draw(st.integers(1, 120))
    steps = draw(st.lists(st.integers(1, 2**40), min_size=count, max_size=count))
    start = draw(st.integers(1, 2**40))
    seqs, seq = [], start
    for step in steps:
        seqs.append(seq)
        seq += step
    base = draw(st.integers(0, 4_102_444_800_000_000))
    topics = draw(st.lists(st.sampled_from(TOPICS) | st.text(max_size=30), min_size=1, max_size=8))
    out: list[Message] = []
    for seq in seqs:
        out.append(
            (
                seq,
                base + draw(st.integers(-(10**9), 10**9)),  # a clock set back, or forward
                draw(st.sampled_from(topics)),
                draw(
                    st.sampled_from([b"", b"3", b"false", b"\x00\xff\n"])
                    | st.binary(max_size=40)
                    | NUMBER_LIKE
                ),
                draw(st.integers(0, 2)),
                draw(st.booleans()),
                draw(st.booleans()),
            )
        )
    return out


@settings(max_examples=150, deadline=None)
@given(message_lists())
def test_any_messages_round_trip(messages: list[Message]) -> None:
    replayed = {m[2] for m in messages[1::4]}  # their receive times are kept apart
    encoded = segment_codec.encode(messages, replayed.__contains__)
    assert segment_codec.decode(encoded.block, encoded.checksum) == messages
    assert segment_codec.matches(messages, encoded)
    assert segment_codec.verify(encoded.block, encoded.checksum) == len(messages)
    assert (encoded.count, encoded.first_seq, encoded.last_seq) == (
        len(messages),
        messages[0][0],
        messages[-1][0],
    )
    assert encoded.first_at == min(m[1] for m in messages)
    assert encoded.last_at == max(m[1] for m in messages)
    for wanted in ({m[2] for m in messages[::3]}, replayed, {messages[-1][2]}):
        raw = segment_codec.decode_raw(encoded.block, encoded.checksum, wanted.__contains__)
        assert raw == [(m[0], m[1], m[2], m[3], m[5]) for m in messages if m[2] in wanted]


def test_large_payloads_and_many_topics() -> None:
    big = bytes(range(256)) * 800  # 200 KB
    messages: list[Message] = [
        (
            i + 1,
            1_700_000_000_000_000 + i,
            f"c{i % 300}/k",
            big if i % 97 == 0 else b"%d" % i,
            1,
            False,
            True,
        )
        for i in range(3000)
    ]
    encoded = segment_codec.encode(messages)
    assert segment_codec.decode(encoded.block, encoded.checksum) == messages


def test_a_different_message_does_not_match() -> None:
    messages: list[Message] = [
        (1, 10, "a/b", b"1", 0, False, False),
        (2, 11, "a/b", b"1", 0, False, False),
    ]
    encoded = segment_codec.encode(messages)
    for changed in (
        [messages[0], (2, 11, "a/b", b"2", 0, False, False)],
        [messages[0], (2, 12, "a/b", b"1", 0, False, False)],
        [messages[0], (2, 11, "a/c", b"1", 0, False, False)],
        [messages[0], (2, 11, "a/b", b"1", 0, True, False)],
        [messages[0], (3, 11, "a/b", b"1", 0, False, False)],
    ):
        assert not segment_codec.matches(changed, encoded)


def test_messages_out_of_seq_order_are_refused() -> None:
    with pytest.raises(ValueError):
        segment_codec.encode([(2, 0, "a", b"", 0, False, False), (1, 0, "a", b"", 0, False, False)])
    with pytest.raises(ValueError):
        segment_codec.encode([])


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def test_every_flipped_byte_of_a_block_or_checksum_is_refused() -> None:
    messages: list[Message] = [
        (i, 1_700_000_000_000_000 + 1000 * i, f"c/{i % 5}", b"%d" % (i // 7), 0, False, False)
        for i in range(1, 400)
    ]
    encoded = segment_codec.encode(messages)
    for at in range(len(encoded.block)):
        with pytest.raises(BlockError):
            segment_codec.decode(_flip(encoded.block, at), encoded.checksum)
    for at in range(len(encoded.checksum)):
        with pytest.raises(BlockError):
            segment_codec.decode_raw(encoded.block, _flip(encoded.checksum, at), lambda t: True)


@settings(max_examples=100, deadline=None)
@given(st.lists(NUMBER_LIKE, min_size=1, max_size=60))
def test_numbers_and_near_misses_come_back_as_they_were(payloads: list[bytes]) -> None:
    messages: list[Message] = [
        (i + 1, 1_700_000_000_000_000 + i, "c/power", payload, 0, False, False)
        for i, payload in enumerate(payloads)
    ]
    encoded = segment_codec.encode(messages)
    assert segment_codec.decode(encoded.block, encoded.checksum) == messages


def test_a_meter_costs_far_less_than_its_digits() -> None:
    """A slowly rising reading with five decimals is kept as small differences, not as text."""
    messages: list[Message] = [
        (
            i + 1,
            1_700_000_000_000_000 + 1_000_000 * i,
            "c/total",
            b"%.5f" % (2218 + i * 0.00213),
            0,
            False,
            False,
        )
        for i in range(20_000)
    ]
    messages = [(m[0], m[1], m[2], m[3].rstrip(b"0").rstrip(b"."), *m[4:]) for m in messages]
    encoded = segment_codec.encode(messages)
    assert segment_codec.decode(encoded.block, encoded.checksum) == messages
    assert len(encoded.block) < 0.5 * len(messages)  # 10 digits a message as text


def test_a_flipped_byte_in_a_topic_not_read_is_refused_too() -> None:
    """decode_raw decompresses only the topics it keeps, yet checks every compressed byte."""
    messages: list[Message] = [
        (i, 1_700_000_000_000_000 + 1000 * i, f"c/{i % 5}", b"%d" % (i * 7919), 0, False, False)
        for i in range(1, 400)
    ]
    encoded = segment_codec.encode(messages)
    for at in range(len(encoded.block)):
        with pytest.raises(BlockError):
            segment_codec.decode_raw(_flip(encoded.block, at), encoded.checksum, "c/0".__eq__)
