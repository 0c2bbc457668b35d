"""`chargelog export`: journal messages as the lines `mosquitto_sub` prints, which
`chargelog import` reads back (journal/importer.py).

Pure formatting, no I/O. Two formats:

- text, `mosquitto_sub -F '%U %t %p'`: time, topic, payload as it is. A payload holding a
  newline is written as mosquitto_sub would write it, and so cannot be read back as one line
  (`Lines.unreadable` counts those: the command warns that the hex format keeps them);
- hex, `mosquitto_sub -F '%U %r %q %t %x'`: time, retained (0/1), qos, topic, the payload as
  lowercase hex (an empty payload: an empty last field). Every field the journal keeps
  survives, whatever bytes the payload holds.

`%U` is seconds and nanoseconds (9 digits); the journal keeps microseconds, so the last three
digits are always 0, and an import of the line gives back the same microsecond.
A topic holding a space cannot be read back in either format (the importer splits on spaces);
MQTT allows one, OpenEVSE never publishes one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from journal.segment_codec import Message

FORMATS = ("text", "hex")


def stamp(micros: int) -> bytes:
    """`%U` for a receive time in microseconds: seconds.nanoseconds."""
    seconds, fraction = divmod(micros, 1_000_000)
    return b"%d.%09d" % (seconds, fraction * 1000)


def text_line(message: Message) -> bytes:
    """`%U %t %p` and the newline mosquitto_sub ends each message with."""
    return b"%s %s %s\n" % (stamp(message[1]), message[2].encode(), message[3])


def hex_line(message: Message) -> bytes:
    """`%U %r %q %t %x` and the newline."""
    return b"%s %d %d %s %s\n" % (
        stamp(message[1]),
        1 if message[5] else 0,
        message[4],
        message[2].encode(),
        message[3].hex().encode(),
    )


def readable(message: Message, fmt: str) -> bool:
    """Whether the importer reads this message's line back as one message: not a text line
    whose payload holds a newline."""
    return fmt == "hex" or b"\n" not in message[3]


FORMATTERS: dict[str, Callable[[Message], bytes]] = {"text": text_line, "hex": hex_line}


@dataclass
class Lines:
    """What a run of export_lines wrote: messages, and those whose text line cannot be read
    back (a newline in the payload)."""

    messages: int = 0
    unreadable: int = 0


def export_lines(messages: Iterable[Message], fmt: str, counts: Lines) -> Iterator[bytes]:
    """The lines of `messages` in a format, counting as they go."""
    line_of = FORMATTERS[fmt]
    for message in messages:
        counts.messages += 1
        if not readable(message, fmt):
            counts.unreadable += 1
        yield line_of(message)


def _local_midnight_us(day: date, zone: tzinfo) -> int:
    moment = datetime.combine(day, time.min, zone).astimezone(UTC)
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def local_days_us(
    first: date | None, last: date | None, zone: tzinfo
) -> tuple[int | None, int | None]:
    """--from/--to as receive times in microseconds, both inclusive: from the first local day's
    midnight to the microsecond before the midnight that ends the last local day."""
    since = _local_midnight_us(first, zone) if first is not None else None
    until = _local_midnight_us(last + timedelta(days=1), zone) - 1 if last is not None else None
    return since, until
