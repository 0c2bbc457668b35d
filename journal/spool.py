"""A local, fsync'ed spool for the minutes the database is away.

Why: while the database is down the recorder cannot acknowledge, the broker's queue for it fills
(`max_queued_messages`, 1000 by default) and then the broker drops messages silently; and QoS 0
messages are never queued for us at all. Spooling to local disk and acknowledging keeps the broker
queue empty, so a database outage of any length loses nothing. When the database returns, the spool
is drained into the journal, in order, before any newer message.
"""

from __future__ import annotations

import contextlib
import os
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path

from journal.entries import Row

# received_at text length, topic length, payload length, qos, retained
_HEADER = struct.Struct("<HIIBB")


class Spool:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def has_data(self) -> bool:
        try:
            return self.path.stat().st_size > 0
        except FileNotFoundError:
            return False

    def append(self, rows: Sequence[Row]) -> None:
        """Durably add rows (returns only once they are on disk)."""
        parts = []
        for received_at, topic, payload, qos, retained in rows:
            stamp = received_at.encode()
            topic_bytes = topic.encode("utf-8")
            parts.append(_HEADER.pack(len(stamp), len(topic_bytes), len(payload), qos, retained))
            parts.extend((stamp, topic_bytes, payload))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "ab") as handle:
            handle.write(b"".join(parts))
            handle.flush()
            os.fsync(handle.fileno())

    def read(self, batch: int = 1000) -> Iterator[list[Row]]:
        """The spooled rows in order, in batches, streamed from disk; a torn last frame (a crash
        while appending, before anything was acknowledged) is ignored."""
        if not self.has_data():
            return
        rows: list[Row] = []
        with open(self.path, "rb") as handle:
            while True:
                header = handle.read(_HEADER.size)
                if len(header) < _HEADER.size:
                    break
                stamp_len, topic_len, payload_len, qos, retained = _HEADER.unpack(header)
                body = handle.read(stamp_len + topic_len + payload_len)
                if len(body) < stamp_len + topic_len + payload_len:
                    break
                stamp = body[:stamp_len].decode()
                topic = body[stamp_len : stamp_len + topic_len].decode("utf-8")
                rows.append((stamp, topic, body[stamp_len + topic_len :], qos, retained))
                if len(rows) >= batch:
                    yield rows
                    rows = []
        if rows:
            yield rows

    def clear(self) -> None:
        """Forget the spool once its rows are committed to the journal."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
