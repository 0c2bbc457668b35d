"""The sealed journal's block format: many messages in one compressed, byte-exact block.

Pure code, no I/O. A block holds the messages of one topic group (a charger's base topic) for one
UTC day, in seq order. The messages are laid out as columns, because each column on its own is
very regular and a standard compressor then does the rest. A block is made of sections, each
compressed on its own, so a reader that needs a few topics decompresses only those:

- the index section: the topic of each message as an index into the block's topic list (a dump
  repeats the same 30 topics in the same order all day: this column compresses to almost
  nothing); seq as differences to the previous message in one byte (the step is nearly always
  1; wider ones apart); qos, retained and imported as one flag byte each;
- two time sections: the receive times (microseconds) of the topics the caller replays most
  (the projector's) and of all the others, each as steps to the previous message of its stream:
  two bytes for a step inside a burst (a few hundred microseconds), the rare wide ones (a new
  burst, a clock set back) apart with a mark for each, in byte planes. A replay of the projected
  topics decodes the first only, about a sixth of the messages;
- one section per topic with its payloads in seq order, where they resemble each other most: a
  kind column (0: the same payload as the topic's previous one; 1: a number; else the length of
  a payload kept as it is, plus 2), the numbers, and the other payloads' bytes.

A number is a payload in the one spelling that a decimal value has when written without
exponent, leading zeros, a plus sign or trailing zeros (`0`, `-3`, `236.48`, `6495.61605`): the
firmware's readings. It is kept as the difference of its value, scaled by the topic's most
decimals in the block, to the topic's previous number, so a slowly moving meter costs a byte or
two instead of ten digits, and written back in the same spelling: byte-exact. Anything else
(`-0`, `1e308`, `false`, `3.10`, binary) is kept as it is.

Each section is compressed by the standard library's LZMA2 (`lzma`, raw format, no container: the
best ratio of the standard codecs on this data). A block starts with its section table: each
section's compressed and decompressed size and the first 16 bytes of the SHA-256 of its
decompressed bytes, then the SHA-256 of all compressed bytes. `checksum` is the SHA-256 of the
sections' decompressed sizes and digests: the encoding is canonical (encode is a pure function
of the messages, and decode inverts it), so it is a checksum of the decoded messages, and
`verify` proves it by re-encoding what it decoded. Every read checks the compressed bytes and
each section it decompresses, so a damaged byte anywhere is refused, never decoded into data.

Everything runs in bulk (array, bytes slicing, map/accumulate/compress over whole columns).
"""

from __future__ import annotations

import hashlib
import lzma
import re
import struct
import sys
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate, chain, compress, pairwise, repeat
from operator import add, eq, gt, itemgetter, lt, ne, not_, sub

CODEC_LZMA_COLUMNS = 1  # the codec version written into journal_segment.codec
CODECS = (CODEC_LZMA_COLUMNS,)
# (seq, received_at in microseconds, topic, payload, qos, retained, imported): every field the
# journal keeps, exactly.
Message = tuple[int, int, str, bytes, int, bool, bool]
# (seq, received_at in microseconds, topic, payload, retained): what the projector replays.
RawEntry = tuple[int, int, str, bytes, bool]

_MAGIC = b"CLJ2"
_TABLE_HEAD = struct.Struct("<4sI")  # magic, sections
_SECTION = struct.Struct("<II16s")  # compressed size, decompressed size, digest
_INDEX_HEAD = struct.Struct("<IIBq")  # messages, topics, width of the topic index, first seq
_TIMES_HEAD = struct.Struct("<Iq")  # messages of the stream, the first one's receive time
_STREAMS = 2  # 0: the other topics, 1: those the caller replays most (encode's `replayed`)
_LZMA_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 4}]
_LITTLE = sys.byteorder == "little"
_NUMBER = re.compile(rb"(?!-0\Z)-?(?:0|[1-9][0-9]*)(?:\.[0-9]*[1-9])?")  # not `-0`
_MAX_DECIMALS = 18
_MAX_MANTISSA = 1 << 62  # differences and their zigzag form then fit 64 bits
# Kinds of a topic's payloads.
_REPEAT, _NUMBER_KIND, _RAW = 0, 1, 2


class BlockError(ValueError):
    """A block that cannot be decoded or whose checksum does not match: damaged, never data."""


@dataclass(frozen=True)
class Encoded:
    block: bytes  # what journal_segment.block stores
    checksum: bytes  # SHA-256 of the sections' sizes and digests (_checksum)
    count: int
    first_seq: int
    last_seq: int
    first_at: int  # microseconds
    last_at: int


# ---- columns ------------------------------------------------------------------------------


def _planes(values: Iterable[int], typecode: str) -> bytes:
    """Integers as fixed-width little-endian numbers, byte plane after byte plane."""
    numbers = array(typecode, values)
    if not _LITTLE:
        numbers.byteswap()
    raw = numbers.tobytes()
    width = numbers.itemsize
    return b"".join(raw[plane::width] for plane in range(width))


def _unplanes(data: bytes | memoryview, count: int, typecode: str) -> array[int]:
    width = array(typecode).itemsize
    raw = bytearray(count * width)
    for plane in range(width):
        raw[plane::width] = data[plane * count : (plane + 1) * count]
    numbers = array(typecode)
    numbers.frombytes(raw)
    if not _LITTLE:
        numbers.byteswap()
    return numbers


def _narrow(values: list[int], typecode: str) -> bytes:
    """Values in a narrow column: how many do not fit (negative or too wide); when some do, a
    mark for each value (1: wide), then the narrow ones, then the wide ones at full width."""
    limit = 1 << (8 * array(typecode).itemsize)
    if not values or (min(values) >= 0 and max(values) < limit):
        return struct.pack("<I", 0) + _planes(values, typecode)
    wide = [not 0 <= value < limit for value in values]
    return b"".join(
        (
            struct.pack("<I", sum(wide)),
            bytes(wide),
            _planes(compress(values, map(not_, wide)), typecode),
            _planes(compress(values, wide), "q"),
        )
    )


def _unnarrow(reader: _Reader, count: int, typecode: str) -> Sequence[int]:
    """A narrow column's values (inverse of _narrow): the array itself when all fit."""
    (wides,) = struct.unpack("<I", reader.take(4))
    width = array(typecode).itemsize
    if not wides:
        return _unplanes(reader.take(width * count), count, typecode)
    marks = bytes(reader.take(count))
    if marks.count(1) != wides or marks.count(0) != count - wides:
        raise BlockError("a column's marks are damaged")
    narrow = _unplanes(reader.take(width * (count - wides)), count - wides, typecode)
    wide = _unplanes(reader.take(8 * wides), wides, "q")
    next_narrow, next_wide = iter(narrow).__next__, iter(wide).__next__
    return [next_wide() if mark else next_narrow() for mark in marks]


def _deltas(values: Sequence[int]) -> list[int]:
    """Each value minus the one before it (the first minus 0)."""
    return list(map(sub, values, chain((0,), values)))


def _flags(qos: list[int], retained: list[bool], imported: list[bool]) -> bytes:
    """qos in bits 0-1, retained in bit 2, imported in bit 3: one byte a message."""
    if not (any(qos) or any(retained) or any(imported)):  # live QoS 0 traffic: all zero
        return bytes(len(qos))
    return bytes(map(add, qos, map(add, map((4).__mul__, retained), map((8).__mul__, imported))))


def _index_typecode(topics: int) -> str:
    return "B" if topics <= 0x100 else "H" if topics <= 0x10000 else "I"


def group_of(topic: str) -> str:
    """The topic group a message is sealed with: its charger's base topic, everything before the
    last `/` (`openevse-ab12/state` -> `openevse-ab12`), as the projector names chargers."""
    return topic.rpartition("/")[0]


# ---- numbers --------------------------------------------------------------------------------


def _places(numbers: list[bytes]) -> list[int]:
    """How many decimals each number is written with."""
    return list(map(len, map(itemgetter(2), map(bytes.partition, numbers, repeat(b".")))))


def _mantissas(numbers: list[bytes], places: list[int], decimals: int) -> list[int]:
    """Each number times 10**decimals, exactly (`-0.5` with 2 decimals -> -50), in bulk: the
    point dropped and zeros appended by C-level maps, no per-number Python code."""
    zeros = [b"0" * count for count in range(decimals + 1)]
    digits = map(bytes.replace, numbers, repeat(b"."), repeat(b""))
    padding = map(zeros.__getitem__, map(sub, repeat(decimals), places))
    return list(map(int, map(bytes.__add__, digits, padding)))


def _spelled(mantissas: list[int], decimals: int) -> list[bytes]:
    """Numbers written back in their one spelling (inverse of _mantissas), in bulk."""
    if not decimals:
        return list(map(b"%d".__mod__, mantissas))
    padded = list(map(b"%0*d".__mod__, zip(repeat(decimals + 1), map(abs, mantissas))))
    heads = map(itemgetter(slice(None, -decimals)), padded)
    tails = map(itemgetter(slice(-decimals, None)), padded)
    pointed = map(b".".join, zip(heads, tails, strict=True))
    out = list(map(bytes.rstrip, map(bytes.rstrip, pointed, repeat(b"0")), repeat(b".")))
    for i in compress(range(len(mantissas)), map(gt, repeat(0), mantissas)):
        out[i] = b"-" + out[i]
    return out


def _zigzag(values: Iterable[int]) -> list[int]:
    return [(value << 1) ^ (value >> 63) for value in values]


def _unzigzag(values: Iterable[int]) -> list[int]:
    return [(value >> 1) ^ -(value & 1) for value in values]


# ---- one topic's payloads ---------------------------------------------------------------------


def _topic_section(payloads: list[bytes]) -> bytes:
    """A topic's payloads (in seq order) as kinds, numbers and the other payloads' bytes."""
    fresh = list(map(ne, payloads, chain((None,), payloads)))
    distinct = list(compress(payloads, fresh))
    numeric = list(map(bool, map(_NUMBER.fullmatch, distinct)))
    numbers = list(compress(distinct, numeric))
    places = _places(numbers)
    decimals = min(max(places, default=0), _MAX_DECIMALS)
    mantissas = _mantissas(numbers, places, decimals) if decimals == max(places, default=0) else []
    if len(mantissas) != len(numbers) or not all(
        map(lt, map(abs, mantissas), repeat(_MAX_MANTISSA))
    ):  # rare: too many decimals, or too large: those numbers are kept as they are
        at = list(compress(range(len(distinct)), numeric))
        mantissas = []
        for i, number, place in zip(at, numbers, places, strict=True):
            value = _mantissas([number], [place], decimals)[0] if place <= decimals else None
            if value is None or abs(value) >= _MAX_MANTISSA:
                numeric[i] = False
            else:
                mantissas.append(value)
    raw = list(compress(distinct, map(not_, numeric)))
    kinds_of_distinct = [
        _NUMBER_KIND if number else len(payload) + _RAW
        for payload, number in zip(distinct, numeric, strict=True)
    ]
    kinds = [_REPEAT] * len(payloads)
    for i, kind in zip(compress(range(len(payloads)), fresh), kinds_of_distinct, strict=True):
        kinds[i] = kind
    return b"".join(
        (
            bytes((decimals,)),
            struct.pack("<I", len(mantissas)),
            _narrow(kinds, "B"),
            _planes(_zigzag(_deltas(mantissas)), "Q"),
            b"".join(raw),
        )
    )


def _topic_payloads(body: bytes, count: int) -> list[bytes]:
    """A topic section's payloads in seq order (inverse of _topic_section)."""
    reader = _Reader(body)
    decimals = reader.take(1)[0]
    (numbers,) = struct.unpack("<I", reader.take(4))
    kinds = _unnarrow(reader, count, "B")
    if count and kinds[0] == _REPEAT:
        raise BlockError("a topic's first payload repeats nothing")
    steps = _unzigzag(_unplanes(reader.take(8 * numbers), numbers, "Q"))
    spelled = _spelled(list(accumulate(steps)), decimals)
    data = reader.view[reader.at :]
    fresh = list(filter(None, kinds))
    sizes = [kind - _RAW for kind in fresh if kind >= _RAW]
    ends = list(accumulate(sizes, initial=0))
    if ends[-1] != len(data) or len(spelled) != len(fresh) - len(sizes):
        raise BlockError("a topic's payloads do not match their kinds")
    raw = list(map(bytes, map(data.__getitem__, map(slice, ends, ends[1:]))))
    distinct: list[bytes] = [b""] * (len(fresh) + 1)
    is_number = list(map((_NUMBER_KIND).__eq__, fresh))
    for i, payload in zip(compress(range(1, len(fresh) + 1), is_number), spelled, strict=True):
        distinct[i] = payload
    others = compress(range(1, len(fresh) + 1), map(not_, is_number))
    for i, payload in zip(others, raw, strict=True):
        distinct[i] = payload
    return list(map(distinct.__getitem__, accumulate(map(bool, kinds))))


# ---- the block --------------------------------------------------------------------------------


def _compress(section: bytes) -> bytes:
    return lzma.compress(section, format=lzma.FORMAT_RAW, filters=_LZMA_FILTERS)


def _digest(section: bytes) -> bytes:
    return hashlib.sha256(section).digest()[:16]


def _checksum(sizes: Iterable[int], digests: Iterable[bytes]) -> bytes:
    """The SHA-256 of every section's decompressed size and digest."""
    return hashlib.sha256(b"".join(map(struct.Struct("<I16s").pack, sizes, digests))).digest()


def _times_section(micros: list[int]) -> bytes:
    """One stream's receive times: the first, then the steps, two bytes each inside a burst (a
    few hundred microseconds), the rare wide ones (a new burst, a clock set back) apart."""
    steps = list(map(sub, micros[1:], micros))
    head = _TIMES_HEAD.pack(len(micros), micros[0] if micros else 0)
    return head + _narrow(steps, "H")


def _times(body: bytes) -> list[int]:
    """A stream's receive times (inverse of _times_section)."""
    reader = _Reader(body)
    count, first = _TIMES_HEAD.unpack(reader.take(_TIMES_HEAD.size))
    if not count:
        return []
    times = list(accumulate(_unnarrow(reader, count - 1, "H"), initial=first))
    if reader.at != len(reader.view):
        raise BlockError("a time column is longer than its steps")
    return times


def encode(messages: Sequence[Message], replayed: Callable[[str], bool] | None = None) -> Encoded:
    """One block of messages given in seq order (strictly increasing). The receive times of the
    topics `replayed` accepts are kept apart from the others', so a replay of just those topics
    decodes only their times (at the cost of a few hundredths of a byte a message)."""
    if not messages:
        raise ValueError("a block holds at least one message")
    seqs, micros, topics, payloads, qos, retained, imported = (
        list(map(itemgetter(field), messages)) for field in range(7)
    )
    if not all(map(lt, seqs, seqs[1:])):
        raise ValueError("a block's messages must come in increasing seq order")
    names = list(dict.fromkeys(topics))  # in order of first appearance
    index = {name: number for number, name in enumerate(names)}
    topic_ids = list(map(index.__getitem__, topics))
    count = len(messages)
    # Each topic's payloads in seq order (a stable sort by topic index).
    order = sorted(range(count), key=topic_ids.__getitem__)
    grouped = list(map(payloads.__getitem__, order))
    counted = Counter(topic_ids)
    per_topic = list(map(counted.__getitem__, range(len(names))))
    encoded_names = [name.encode("utf-8") for name in names]
    typecode = _index_typecode(len(names))
    streams = bytes(bool(replayed and replayed(name)) for name in names)
    in_stream = _in_stream(topic_ids, streams, len(names))
    index_section = b"".join(
        (
            _INDEX_HEAD.pack(count, len(names), array(typecode).itemsize, seqs[0]),
            _planes(map(len, encoded_names), "I"),
            b"".join(encoded_names),
            _planes(per_topic, "I"),
            streams,
            bytes(topic_ids) if typecode == "B" else _planes(topic_ids, typecode),
            _narrow(list(map(sub, seqs[1:], seqs)), "B"),
            _flags(qos, retained, imported),
        )
    )
    sections = [index_section]
    for stream in range(_STREAMS):
        sections.append(_times_section(list(compress(micros, in_stream[stream]))))
    ends = list(accumulate(per_topic, initial=0))
    for start, end in pairwise(ends):
        sections.append(_topic_section(grouped[start:end]))
    packed = list(map(_compress, sections))
    digests = list(map(_digest, sections))
    compressed = b"".join(packed)
    table = b"".join(
        chain(
            (_TABLE_HEAD.pack(_MAGIC, len(sections)),),
            map(_SECTION.pack, map(len, packed), map(len, sections), digests),
            (hashlib.sha256(compressed).digest(),),
        )
    )
    return Encoded(
        block=table + compressed,
        checksum=_checksum(map(len, sections), digests),
        count=count,
        first_seq=seqs[0],
        last_seq=seqs[-1],
        first_at=min(micros),
        last_at=max(micros),
    )


class _Reader:
    """Walks a section's parts in order."""

    def __init__(self, body: bytes | memoryview) -> None:
        self.view = memoryview(body)
        self.at = 0

    def take(self, size: int) -> memoryview:
        if size < 0 or self.at + size > len(self.view):
            raise BlockError("the block ends before its last column")
        part = self.view[self.at : self.at + size]
        self.at += size
        return part


class _Block:
    """A block's section table, checked against the checksum and the compressed bytes; its
    sections are decompressed (and checked) one at a time, on demand."""

    def __init__(self, block: bytes, checksum: bytes) -> None:
        reader = _Reader(block)
        magic, sections = _TABLE_HEAD.unpack(reader.take(_TABLE_HEAD.size))
        if magic != _MAGIC:
            raise BlockError("the block is not a chargelog journal block")
        rows = [_SECTION.unpack(reader.take(_SECTION.size)) for _ in range(sections)]
        if _checksum(map(itemgetter(1), rows), map(itemgetter(2), rows)) != checksum:
            raise BlockError("the block does not match its checksum")
        whole = bytes(reader.take(32))
        data = reader.view[reader.at :]
        if hashlib.sha256(data).digest() != whole:
            raise BlockError("the block's compressed bytes are damaged")
        self.rows = rows
        self.data = data
        self.starts = list(accumulate((row[0] for row in rows), initial=0))
        if self.starts[-1] != len(data):
            raise BlockError("the block's sections do not add up to its size")

    def section(self, number: int) -> bytes:
        size, plain, digest = self.rows[number]
        start = self.starts[number]
        try:
            body = lzma.decompress(
                self.data[start : start + size], format=lzma.FORMAT_RAW, filters=_LZMA_FILTERS
            )
        except lzma.LZMAError as exc:
            raise BlockError(f"the block does not decompress ({exc})") from None
        if len(body) != plain or _digest(body) != digest:
            raise BlockError("a section of the block does not match its digest")
        return body


@dataclass
class _Index:
    names: list[str]
    topic_ids: Sequence[int]  # bytes for at most 256 topics
    seqs: Sequence[int]
    streams: bytes  # each topic's time stream
    flags: bytes
    per_topic: list[int]


def _index(block: _Block) -> _Index:
    reader = _Reader(block.section(0))
    count, topics, width, first_seq = _INDEX_HEAD.unpack(reader.take(_INDEX_HEAD.size))
    if len(block.rows) != topics + 1 + _STREAMS:
        raise BlockError("the block's sections do not match its topics")
    name_sizes = _unplanes(reader.take(4 * topics), topics, "I")
    names_blob = bytes(reader.take(sum(name_sizes)))
    ends = list(accumulate(name_sizes, initial=0))
    names = [names_blob[a:b].decode("utf-8") for a, b in pairwise(ends)]
    per_topic = list(_unplanes(reader.take(4 * topics), topics, "I"))
    streams = bytes(reader.take(topics))
    typecode = _index_typecode(topics)
    if array(typecode).itemsize != width or sum(per_topic) != count:
        raise BlockError("the block's topic index does not match its header")
    topic_ids: Sequence[int]
    if typecode == "B":
        topic_ids = bytes(reader.take(count))
    else:
        topic_ids = _unplanes(reader.take(width * count), count, typecode)
    steps = _unnarrow(reader, count - 1, "B")
    seqs: Sequence[int]
    if isinstance(steps, array) and steps.count(1) == len(steps):  # seq without holes
        seqs = range(first_seq, first_seq + count)
    else:
        seqs = list(accumulate(steps, initial=first_seq))
    flags = bytes(reader.take(count))
    if reader.at != len(reader.view) or max(topic_ids, default=0) >= max(topics, 1):
        raise BlockError("the block's index section does not match its header")
    if max(streams, default=0) >= _STREAMS:
        raise BlockError("the block's time streams are damaged")
    return _Index(names, topic_ids, seqs, streams, flags, per_topic)


def _micros(block: _Block, index: _Index, kept: Sequence[int], keep: list[bool]) -> list[int]:
    """The receive times of the kept messages: only the time streams they are in are decoded."""
    needed = {index.streams[t] for t, wanted in enumerate(keep) if wanted}
    times = {}
    for stream in needed:
        times[stream] = _times(block.section(1 + stream))
        members = compress(index.per_topic, map((stream).__eq__, index.streams))
        if len(times[stream]) != sum(members):
            raise BlockError("a time column does not match the block's topics")
    if len(needed) == 1:
        (stream,) = needed
        in_stream = _in_stream(index.topic_ids, index.streams, len(index.names))[stream]
        return list(compress(times[stream], compress(kept, in_stream)))
    takers = [iter(times.get(stream, ())).__next__ for stream in range(_STREAMS)]
    whole = [takers[stream]() for stream in _selector(index.topic_ids, index.streams)]
    return list(compress(whole, kept))


def _selector(topic_ids: Sequence[int], keep: Sequence[int]) -> Sequence[int]:
    """For each message whether its topic is kept: one C-level translate when the topic index
    is bytes."""
    if isinstance(topic_ids, bytes):
        return topic_ids.translate(bytes(keep) + bytes(256 - len(keep)))
    return list(map(keep.__getitem__, topic_ids))


def _in_stream(topic_ids: Sequence[int], streams: bytes, topics: int) -> list[Sequence[int]]:
    """For each time stream, which messages are in it."""
    return [
        _selector(topic_ids, [streams[t] == stream for t in range(topics)])
        for stream in range(_STREAMS)
    ]


def _payloads_in_seq_order(
    block: _Block, index: _Index, keep: list[bool], kept: Iterable[int]
) -> list[bytes]:
    """The payloads of the kept topics' messages, in seq order."""
    takers: dict[int, Callable[[], bytes]] = {}
    for topic_id, size in enumerate(index.per_topic):
        if keep[topic_id]:
            payloads = _topic_payloads(block.section(1 + _STREAMS + topic_id), size)
            takers[topic_id] = iter(payloads).__next__
    return [takers[topic_id]() for topic_id in compress(index.topic_ids, kept)]


def decode(block: bytes, checksum: bytes) -> list[Message]:
    """Every message of a block, in seq order, exactly as it was sealed."""
    checked = _Block(block, checksum)
    index = _index(checked)
    everything = [True] * len(index.names)
    kept = bytes(repeat(1, len(index.flags)))
    payloads = _payloads_in_seq_order(checked, index, everything, kept)
    micros = _micros(checked, index, kept, everything)
    flags = index.flags
    return list(
        zip(
            index.seqs,
            micros,
            map(index.names.__getitem__, index.topic_ids),
            payloads,
            map((3).__and__, flags),
            map(bool, map((4).__and__, flags)),
            map(bool, map((8).__and__, flags)),
            strict=True,
        )
    )


def decode_raw(block: bytes, checksum: bytes, wanted: Callable[[str], bool]) -> list[RawEntry]:
    """The projector's view of the messages whose topic `wanted` accepts, in seq order. Only
    those topics' sections are decompressed."""
    checked = _Block(block, checksum)
    index = _index(checked)
    keep = [wanted(name) for name in index.names]
    if not any(keep):
        return []
    kept = _selector(index.topic_ids, keep)
    payloads = _payloads_in_seq_order(checked, index, keep, kept)
    micros = _micros(checked, index, kept, keep)
    return list(
        zip(
            compress(index.seqs, kept),
            micros,
            map(index.names.__getitem__, compress(index.topic_ids, kept)),
            payloads,
            map(bool, map((4).__and__, compress(index.flags, kept))),
            strict=True,
        )
    )


def matches(messages: Sequence[Message], encoded: Encoded) -> bool:
    """Whether a block decodes back to exactly these messages (sealing checks every block this
    way before it deletes a row)."""
    try:
        decoded = decode(encoded.block, encoded.checksum)
    except BlockError:
        return False
    if len(decoded) != len(messages):
        return False
    return all(map(eq, decoded, map(_normal, messages)))


def _normal(message: Message) -> Message:
    seq, micros, topic, payload, qos, retained, imported = message
    return (seq, micros, topic, bytes(payload), qos, bool(retained), bool(imported))


def verify(block: bytes, checksum: bytes) -> int:
    """Decode every message and encode it again: the checksum must come back unchanged (proof
    that the codec reproduces exactly what was sealed). Returns the number of messages."""
    messages = decode(block, checksum)
    index = _index(_Block(block, checksum))
    replayed = {name for name, stream in zip(index.names, index.streams, strict=True) if stream}
    if encode(messages, replayed.__contains__).checksum != checksum:
        raise BlockError("the decoded messages do not encode to the stored checksum")
    return len(messages)
