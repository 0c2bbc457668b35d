"""The sealed journal's block format: many messages in one compressed, byte-exact block.

Pure code, no I/O. A block holds the messages of one topic group (a charger's base topic) for one
UTC day, in seq order. The messages are laid out as columns, because each column on its own is
very regular and a standard compressor then does the rest:

- the topic of each message as an index into the block's topic list (a dump repeats the same
  30 topics in the same order all day: this column compresses to almost nothing);
- seq and receive time (microseconds) as differences to the previous message, written as 8-byte
  integers split into byte planes: the high planes are all zero or all 0xff and vanish in the
  compressor, the low plane keeps the jitter, which is the only real information;
- qos, retained and imported as one flag byte each;
- the payloads grouped by topic (each topic's values follow each other, where they resemble each
  other most), a length column where 0 marks "the same payload as this topic's previous one",
  and the distinct payloads' bytes.

The whole body is compressed by one `lzma` call (the standard library's xz: the best ratio of the
standard codecs on this data, and it adds its own CRC of the body). `checksum` is the SHA-256 of
the body; the body is a canonical encoding (encode is a pure function of the messages, and decode
inverts it), so a checksum over it is a checksum of the decoded messages, and `verify` proves it
by re-encoding what it decoded.

Everything runs in bulk (array, bytes slicing, map/accumulate/compress over whole columns): no
per-message work in Python beyond one dictionary lookup.
"""

from __future__ import annotations

import hashlib
import lzma
import struct
import sys
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate, chain, compress, pairwise
from operator import add, eq, itemgetter, lt, mul, not_, sub

CODEC_LZMA_COLUMNS = 1  # the codec version written into journal_segment.codec
CODECS = (CODEC_LZMA_COLUMNS,)
# (seq, received_at in microseconds, topic, payload, qos, retained, imported): every field the
# journal keeps, exactly.
Message = tuple[int, int, str, bytes, int, bool, bool]
# (seq, received_at in microseconds, topic, payload, retained): what the projector replays.
RawEntry = tuple[int, int, str, bytes, bool]

_MAGIC = b"CLJ1"
_HEADER = struct.Struct("<4sIIB")  # magic, messages, topics, width of the topic index
_LZMA_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 2}]
_LITTLE = sys.byteorder == "little"


class BlockError(ValueError):
    """A block that cannot be decoded or whose checksum does not match: damaged, never data."""


@dataclass(frozen=True)
class Encoded:
    block: bytes  # what journal_segment.block stores
    checksum: bytes  # SHA-256 of the uncompressed body
    count: int
    first_seq: int
    last_seq: int
    first_at: int  # microseconds
    last_at: int


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


def _deltas(values: Sequence[int]) -> map[int]:
    """Each value minus the one before it (the first minus 0)."""
    return map(sub, values, chain((0,), values))


def _flags(qos: list[int], retained: list[bool], imported: list[bool]) -> bytes:
    """qos in bits 0-1, retained in bit 2, imported in bit 3: one byte a message."""
    return bytes(map(add, qos, map(add, map((4).__mul__, retained), map((8).__mul__, imported))))


def _index_typecode(topics: int) -> str:
    return "B" if topics <= 0x100 else "H" if topics <= 0x10000 else "I"


def group_of(topic: str) -> str:
    """The topic group a message is sealed with: its charger's base topic, everything before the
    last `/` (`openevse-ab12/state` -> `openevse-ab12`), as the projector names chargers."""
    return topic.rpartition("/")[0]


def encode(messages: Sequence[Message]) -> Encoded:
    """One block of messages given in seq order (strictly increasing)."""
    if not messages:
        raise ValueError("a block holds at least one message")
    seqs, micros, topics, payloads, qos, retained, imported = (
        list(map(itemgetter(field), messages)) for field in range(7)
    )
    index: dict[str, int] = {}
    setdefault = index.setdefault
    topic_ids = [setdefault(topic, len(index)) for topic in topics]
    count, names = len(messages), list(index)
    if not all(map(lt, seqs, seqs[1:])):
        raise ValueError("a block's messages must come in increasing seq order")
    flags = _flags(qos, retained, imported)
    # Payloads grouped by topic, in seq order inside each topic (a stable sort by topic index).
    order = sorted(range(count), key=topic_ids.__getitem__)
    grouped = list(map(payloads.__getitem__, order))
    grouped_ids = list(map(topic_ids.__getitem__, order))
    # A payload is new unless it equals the previous one of the same topic.
    fresh = list(
        map(
            not_,
            map(
                mul,
                map(eq, grouped, chain((None,), grouped)),
                map(eq, grouped_ids, chain((-1,), grouped_ids)),
            ),
        )
    )
    lengths = map(mul, map((1).__add__, map(len, grouped)), fresh)  # 0 = a repeat
    distinct = list(compress(grouped, fresh))
    counted = Counter(topic_ids)
    per_topic = [counted[topic_id] for topic_id in range(len(names))]
    encoded_names = [name.encode("utf-8") for name in names]
    typecode = _index_typecode(len(names))
    body = b"".join(
        (
            _HEADER.pack(_MAGIC, count, len(names), array(typecode).itemsize),
            _planes(map(len, encoded_names), "I"),
            b"".join(encoded_names),
            _planes(per_topic, "I"),
            bytes(topic_ids) if typecode == "B" else _planes(topic_ids, typecode),
            _planes(_deltas(seqs), "q"),
            _planes(_deltas(micros), "q"),
            flags,
            _planes(lengths, "I"),
            b"".join(distinct),
        )
    )
    return Encoded(
        block=lzma.compress(body, format=lzma.FORMAT_XZ, filters=_LZMA_FILTERS),
        checksum=hashlib.sha256(body).digest(),
        count=count,
        first_seq=seqs[0],
        last_seq=seqs[-1],
        first_at=min(micros),
        last_at=max(micros),
    )


class _Reader:
    """Walks a body's sections in order."""

    def __init__(self, body: bytes) -> None:
        self.view = memoryview(body)
        self.at = 0

    def take(self, size: int) -> memoryview:
        if self.at + size > len(self.view):
            raise BlockError("the block ends before its last column")
        part = self.view[self.at : self.at + size]
        self.at += size
        return part


@dataclass
class Columns:
    """A decoded block, column by column; payloads are expanded per topic on demand."""

    names: list[str]
    topic_ids: list[int]
    seqs: list[int]
    micros: list[int]
    flags: bytes
    per_topic: list[int]
    lengths: array[int]  # grouped by topic
    data: memoryview  # the distinct payloads, grouped by topic

    def topic_payloads(self) -> list[list[bytes]]:
        """Every topic's payloads in seq order, repeats expanded (list index = topic index)."""
        out: list[list[bytes]] = []
        start = offset = 0
        for size in self.per_topic:
            lengths = self.lengths[start : start + size]
            start += size
            sizes = [length - 1 for length in lengths if length]
            ends = list(accumulate(sizes, initial=offset))
            data = self.data
            distinct = [b"", *map(bytes, map(data.__getitem__, map(slice, ends, ends[1:])))]
            offset = ends[-1]
            out.append(list(map(distinct.__getitem__, accumulate(map(bool, lengths)))))
        if offset != len(self.data):
            raise BlockError("the payload column does not match its lengths")
        return out


def decompress(block: bytes, checksum: bytes) -> bytes:
    """The block's body, checked against the checksum; BlockError when either is damaged."""
    try:
        body = lzma.decompress(block, format=lzma.FORMAT_XZ)
    except lzma.LZMAError as exc:
        raise BlockError(f"the block does not decompress ({exc})") from None
    if hashlib.sha256(body).digest() != checksum:
        raise BlockError("the block does not match its checksum")
    return body


def columns(body: bytes) -> Columns:
    reader = _Reader(body)
    magic, count, topics, width = _HEADER.unpack(reader.take(_HEADER.size))
    if magic != _MAGIC:
        raise BlockError("the block is not a chargelog journal block")
    name_sizes = _unplanes(reader.take(4 * topics), topics, "I")
    names_blob = bytes(reader.take(sum(name_sizes)))
    ends = list(accumulate(name_sizes, initial=0))
    names = [names_blob[a:b].decode("utf-8") for a, b in pairwise(ends)]
    per_topic = list(_unplanes(reader.take(4 * topics), topics, "I"))
    typecode = _index_typecode(topics)
    if array(typecode).itemsize != width or sum(per_topic) != count:
        raise BlockError("the block's topic index does not match its header")
    if typecode == "B":
        topic_ids = list(reader.take(count))
    else:
        topic_ids = list(_unplanes(reader.take(width * count), count, typecode))
    seqs = list(accumulate(_unplanes(reader.take(8 * count), count, "q")))
    micros = list(accumulate(_unplanes(reader.take(8 * count), count, "q")))
    flags = bytes(reader.take(count))
    lengths = _unplanes(reader.take(4 * count), count, "I")
    data = reader.view[reader.at :]
    return Columns(names, topic_ids, seqs, micros, flags, per_topic, lengths, data)


def decode(block: bytes, checksum: bytes) -> list[Message]:
    """Every message of a block, in seq order, exactly as it was sealed."""
    cols = columns(decompress(block, checksum))
    # The payloads come grouped by topic: take them back in seq order, topic by topic.
    iterators = [iter(payloads).__next__ for payloads in cols.topic_payloads()]
    payloads = [iterators[topic_id]() for topic_id in cols.topic_ids]
    flags = cols.flags
    return list(
        zip(
            cols.seqs,
            cols.micros,
            map(cols.names.__getitem__, cols.topic_ids),
            payloads,
            map((3).__and__, flags),
            map(bool, map((4).__and__, flags)),
            map(bool, map((8).__and__, flags)),
            strict=True,
        )
    )


def decode_raw(block: bytes, checksum: bytes, wanted: Callable[[str], bool]) -> list[RawEntry]:
    """The projector's view of the messages whose topic `wanted` accepts, in seq order. Only
    those topics' payloads are expanded: the others are skipped a column at a time."""
    cols = columns(decompress(block, checksum))
    keep = [wanted(name) for name in cols.names]
    if not any(keep):
        return []
    # One payload iterator per kept topic; the other topics' payloads are stepped over.
    takers: dict[int, Callable[[], bytes]] = {}
    start = offset = 0
    data = cols.data
    for topic_id, size in enumerate(cols.per_topic):
        lengths = cols.lengths[start : start + size]
        start += size
        if not keep[topic_id]:
            offset += sum(lengths) - size + lengths.count(0)  # sizes are stored plus one
            continue
        ends = list(accumulate([length - 1 for length in lengths if length], initial=offset))
        offset = ends[-1]
        distinct = [b"", *map(bytes, map(data.__getitem__, map(slice, ends, ends[1:])))]
        takers[topic_id] = iter(map(distinct.__getitem__, accumulate(map(bool, lengths)))).__next__
    topic_ids = cols.topic_ids
    positions = list(compress(range(len(topic_ids)), map(keep.__getitem__, topic_ids)))
    kept_ids = list(map(topic_ids.__getitem__, positions))
    return list(
        zip(
            map(cols.seqs.__getitem__, positions),
            map(cols.micros.__getitem__, positions),
            map(cols.names.__getitem__, kept_ids),
            [takers[topic_id]() for topic_id in kept_ids],
            map(bool, map((4).__and__, map(cols.flags.__getitem__, positions))),
            strict=True,
        )
    )


def matches(messages: Sequence[Message], encoded: Encoded) -> bool:
    """Whether a block decodes back to exactly these messages, column by column (sealing checks
    every block this way before it deletes a row)."""
    try:
        cols = columns(decompress(encoded.block, encoded.checksum))
    except BlockError:
        return False
    fields = [list(map(itemgetter(field), messages)) for field in range(7)]
    if cols.seqs != fields[0] or cols.micros != fields[1]:
        return False
    if list(map(cols.names.__getitem__, cols.topic_ids)) != fields[2]:
        return False
    iterators = [iter(payloads).__next__ for payloads in cols.topic_payloads()]
    if [iterators[topic_id]() for topic_id in cols.topic_ids] != fields[3]:
        return False
    return cols.flags == _flags(fields[4], fields[5], fields[6])


def verify(block: bytes, checksum: bytes) -> int:
    """Decode every message and encode it again: the checksum must come back unchanged (proof
    that the codec reproduces exactly what was sealed). Returns the number of messages."""
    messages = decode(block, checksum)
    if encode(messages).checksum != checksum:
        raise BlockError("the decoded messages do not encode to the stored checksum")
    return len(messages)
